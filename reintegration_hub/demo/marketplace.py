# ruff: noqa: RUF001 - titles in the local languages use their own scripts on purpose
"""Demo marketplace: exchange rates, vetted partners and their support options per origin office.

Loaded through the marketplace services, so every rule (agreement, English title, EUR cost at
the recorded rate) holds for demo data as for real data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from babel.numbers import get_currency_precision

from partners import services as market
from partners.models import (
    CapacityPeriod,
    CostBasis,
    DeliveryMode,
    OptionStatus,
    PaymentSchedule,
    SupportCategory,
    VettingStatus,
)
from partners.services import LocationInput, OptionInput, PartnerInput, TextInput
from reintegration_hub.core.money import ExchangeRate
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db

RATES_FROM = dt.date(2026, 1, 1)
#: euros per unit, rounded, as a treasury table would have them at the start of 2026
EUR_RATES = {
    "GEL": Decimal("0.34"),
    "AMD": Decimal("0.0023"),
    "AZN": Decimal("0.53"),
    "TJS": Decimal("0.085"),
    "IQD": Decimal("0.00069"),
    "VND": Decimal("0.000036"),
    "MNT": Decimal("0.00026"),
}


@dataclass(frozen=True)
class DemoOption:
    category: SupportCategory
    title: str
    local_title: str
    city: str
    region: str
    cost: str  # in major units of the country's currency
    description: str = ""
    basis: CostBasis = CostBasis.PER_PERSON
    mode: DeliveryMode = DeliveryMode.SERVICE
    places: int | None = None
    serves: tuple[str, ...] = ()
    max_family: int | None = None
    min_age: int | None = 18
    duration: int | None = None
    lead: int = 7
    payment_months: int | None = None  # paid monthly for so many months


@dataclass(frozen=True)
class DemoPartner:
    name: str
    legal_status: str
    regions: tuple[str, ...]
    options: tuple[DemoOption, ...]
    email: str = ""


@dataclass(frozen=True)
class DemoCountry:
    office: str
    currency: str
    language: str
    partners: tuple[DemoPartner, ...] = field(default_factory=tuple)


V, B, J, H, E = (
    SupportCategory.VOCATIONAL_TRAINING,
    SupportCategory.BUSINESS_START_UP,
    SupportCategory.JOB_PLACEMENT,
    SupportCategory.HOUSING,
    SupportCategory.EDUCATION,
)
M, P, L, R = (
    SupportCategory.MEDICAL,
    SupportCategory.PSYCHOSOCIAL,
    SupportCategory.LEGAL_DOCUMENTATION,
    SupportCategory.POST_ARRIVAL_RECEPTION,
)

KUTAISI_COURSE = DemoOption(
    V,
    "Tailoring and sewing vocational course",
    "კერვისა და თერძობის პროფესიული კურსი",
    "Kutaisi",
    "Imereti",
    "1200",
    description=(
        "Three-month state-accredited course with a certificate, a starter sewing kit and "
        "childcare during classes. Taught in Georgian; the fee is paid month by month."
    ),
    places=10,
    serves=("single_parent", "large_family"),
    max_family=8,
    duration=90,
    lead=14,
    payment_months=3,
)

COUNTRIES = (
    DemoCountry(
        "IOM Tbilisi",
        "GEL",
        "ka",
        (
            DemoPartner(
                "Imereti Vocational Training Centre",
                "Public vocational college",
                ("Imereti", "Racha-Lechkhumi"),
                (
                    KUTAISI_COURSE,
                    DemoOption(
                        V,
                        "Welding and metalwork course",
                        "შედუღებისა და ლითონის დამუშავების კურსი",
                        "Kutaisi",
                        "Imereti",
                        "1500",
                        places=6,
                        duration=120,
                        lead=21,
                    ),
                    DemoOption(
                        J,
                        "Job placement with partner employers",
                        "დასაქმება პარტნიორ დამსაქმებლებთან",
                        "Kutaisi",
                        "Imereti",
                        "0",
                        duration=60,
                    ),
                ),
            ),
            DemoPartner(
                "Tbilisi Reintegration Support Union",
                "Non-governmental organisation",
                ("Tbilisi", "Kvemo Kartli", "Mtskheta-Mtianeti"),
                (
                    DemoOption(
                        H,
                        "Rent subsidy for the first three months",
                        "ბინის ქირის სუბსიდია პირველი სამი თვე",
                        "Tbilisi",
                        "Tbilisi",
                        "600",
                        basis=CostBasis.PER_MONTH,
                        mode=DeliveryMode.CASH,
                        places=5,
                        serves=("single_parent", "large_family", "elderly"),
                        duration=90,
                    ),
                    DemoOption(
                        B,
                        "Small business start-up kit",
                        "მცირე ბიზნესის საწყისი ნაკრები",
                        "Tbilisi",
                        "Tbilisi",
                        "3500",
                        mode=DeliveryMode.IN_KIND,
                        basis=CostBasis.PER_HOUSEHOLD,
                        places=4,
                        lead=21,
                    ),
                    DemoOption(
                        P,
                        "Psychosocial counselling sessions",
                        "ფსიქოსოციალური კონსულტაციები",
                        "Tbilisi",
                        "Tbilisi",
                        "400",
                        serves=("trafficking_victim", "torture_victim"),
                        min_age=None,
                        duration=60,
                    ),
                    DemoOption(
                        L,
                        "Help with identity documents and registration",
                        "დახმარება პირადობის დოკუმენტებსა და რეგისტრაციაში",
                        "Tbilisi",
                        "Tbilisi",
                        "150",
                        min_age=None,
                        lead=3,
                    ),
                ),
            ),
        ),
    ),
    DemoCountry(
        "IOM Yerevan",
        "AMD",
        "hy",
        (
            DemoPartner(
                "Yerevan Employment and Skills Foundation",
                "Foundation",
                ("Yerevan", "Kotayk"),
                (
                    DemoOption(
                        V,
                        "IT support technician course",
                        "ՏՏ աջակցման տեխնիկի դասընթաց",
                        "Yerevan",
                        "Yerevan",
                        "250000",
                        places=12,
                        duration=120,
                    ),
                    DemoOption(
                        J,
                        "Job matching and interview coaching",
                        "Աշխատանքի համադրում և հարցազրույցի պատրաստում",
                        "Yerevan",
                        "Yerevan",
                        "0",
                    ),
                ),
            ),
            DemoPartner(
                "Gyumri Family Support Centre",
                "Non-governmental organisation",
                ("Shirak",),
                (
                    DemoOption(
                        H,
                        "Temporary family accommodation",
                        "Ժամանակավոր ընտանեկան կացարան",
                        "Gyumri",
                        "Shirak",
                        "120000",
                        basis=CostBasis.PER_MONTH,
                        places=3,
                        serves=("single_parent", "large_family"),
                    ),
                    DemoOption(
                        M,
                        "Medical check-up and medicines",
                        "Բժշկական զննում և դեղորայք",
                        "Gyumri",
                        "Shirak",
                        "60000",
                        min_age=None,
                        serves=("serious_illness", "elderly", "pregnant"),
                    ),
                ),
            ),
        ),
    ),
    DemoCountry(
        "IOM Baku",
        "AZN",
        "az",
        (
            DemoPartner(
                "Baku Vocational Education Centre",
                "Public vocational school",
                ("Baku", "Absheron"),
                (
                    DemoOption(
                        V,
                        "Cooking and catering course",
                        "Aşpazlıq və iaşə kursu",
                        "Baku",
                        "Baku",
                        "700",
                        places=10,
                        duration=90,
                    ),
                    DemoOption(
                        B,
                        "Business plan coaching and grant",
                        "Biznes plan üzrə məsləhət və qrant",
                        "Baku",
                        "Baku",
                        "2000",
                        mode=DeliveryMode.IN_KIND,
                        places=4,
                    ),
                    DemoOption(
                        R,
                        "Airport reception and onward travel",
                        "Hava limanında qarşılanma və yol xərci",
                        "Baku",
                        "Baku",
                        "80",
                        min_age=None,
                        lead=5,
                    ),
                ),
            ),
        ),
    ),
    DemoCountry(
        "IOM Dushanbe",
        "TJS",
        "tg",
        (
            DemoPartner(
                "Dushanbe Labour Migrants' Support Centre",
                "Public association",
                ("Dushanbe", "Districts of Republican Subordination"),
                (
                    DemoOption(
                        V,
                        "Electrician course",
                        "Курси барқчӣ",
                        "Dushanbe",
                        "Dushanbe",
                        "4500",
                        places=8,
                        duration=90,
                    ),
                    DemoOption(
                        B,
                        "Livestock start-up kit",
                        "Маҷмӯаи оғози чорводорӣ",
                        "Dushanbe",
                        "Dushanbe",
                        "20000",
                        mode=DeliveryMode.IN_KIND,
                        basis=CostBasis.PER_HOUSEHOLD,
                        places=5,
                    ),
                    DemoOption(
                        P,
                        "Family counselling",
                        "Машварати оилавӣ",
                        "Dushanbe",
                        "Dushanbe",
                        "1500",
                        min_age=None,
                    ),
                ),
            ),
        ),
    ),
    DemoCountry(
        "IOM Erbil",
        "IQD",
        "ar",
        (
            DemoPartner(
                "Erbil Livelihoods Network",
                "Non-governmental organisation",
                ("Erbil", "Duhok"),
                (
                    DemoOption(
                        B,
                        "Small shop start-up package",
                        "حزمة بدء مشروع متجر صغير",
                        "Erbil",
                        "Erbil",
                        "3000000",
                        mode=DeliveryMode.IN_KIND,
                        places=6,
                    ),
                    DemoOption(
                        V,
                        "Mobile phone repair course",
                        "دورة تصليح الهواتف المحمولة",
                        "Erbil",
                        "Erbil",
                        "900000",
                        places=10,
                        duration=60,
                    ),
                    DemoOption(
                        L,
                        "Civil documentation assistance",
                        "المساعدة في الوثائق المدنية",
                        "Duhok",
                        "Duhok",
                        "150000",
                        min_age=None,
                    ),
                ),
            ),
        ),
    ),
    DemoCountry(
        "IOM Hanoi",
        "VND",
        "vi",
        (
            DemoPartner(
                "Hanoi Vocational Training Cooperative",
                "Cooperative",
                ("Hanoi", "Nghe An", "Ha Tinh"),
                (
                    DemoOption(
                        V,
                        "Nail technician and beauty course",
                        "Khóa học kỹ thuật làm móng và làm đẹp",
                        "Hanoi",
                        "Hanoi",
                        "15000000",
                        places=10,
                        duration=60,
                    ),
                    DemoOption(
                        J,
                        "Job placement in garment factories",
                        "Giới thiệu việc làm tại nhà máy may",
                        "Vinh",
                        "Nghe An",
                        "0",
                    ),
                    DemoOption(
                        E,
                        "School fees and supplies for children",
                        "Học phí và đồ dùng học tập cho trẻ em",
                        "Vinh",
                        "Nghe An",
                        "6000000",
                        basis=CostBasis.PER_HOUSEHOLD,
                        serves=("single_parent", "large_family"),
                        min_age=None,
                    ),
                ),
            ),
        ),
    ),
    DemoCountry(
        "IOM Ulaanbaatar",
        "MNT",
        "mn",
        (
            DemoPartner(
                "Ulaanbaatar Returnee Support Centre",
                "Non-governmental organisation",
                ("Ulaanbaatar",),
                (
                    DemoOption(
                        V,
                        "Heavy machinery operator course",
                        "Хүнд машин механизмын операторын сургалт",
                        "Ulaanbaatar",
                        "Ulaanbaatar",
                        "3500000",
                        places=6,
                        duration=90,
                    ),
                    DemoOption(
                        H,
                        "Ger and winter fuel support",
                        "Гэр болон өвлийн түлшний дэмжлэг",
                        "Ulaanbaatar",
                        "Ulaanbaatar",
                        "2500000",
                        mode=DeliveryMode.IN_KIND,
                        basis=CostBasis.PER_HOUSEHOLD,
                        serves=("large_family", "elderly", "single_parent"),
                    ),
                    DemoOption(
                        M,
                        "Health check and specialist referral",
                        "Эрүүл мэндийн үзлэг ба мэргэжлийн эмчид илгээх",
                        "Ulaanbaatar",
                        "Ulaanbaatar",
                        "400000",
                        min_age=None,
                    ),
                ),
            ),
        ),
    ),
)


def _slug(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())[:24]


def load_marketplace(office_ids: dict[str, int], *, actor: Actor) -> None:
    """Exchange rates, approved partners with agreements, and published options."""
    for currency, rate in EUR_RATES.items():
        db.session.add(
            ExchangeRate(currency=currency, valid_on=RATES_FROM, eur_per_unit=rate, source="demo")
        )
    db.session.flush()
    number = 0
    for country in COUNTRIES:
        for demo_partner in country.partners:
            number += 1
            partner = market.create_partner(
                PartnerInput(
                    name=demo_partner.name,
                    legal_status=demo_partner.legal_status,
                    regions=demo_partner.regions,
                    languages=(country.language, "en"),
                    contact_language=country.language,
                    focal_point_name="Referral desk",
                    focal_point_email=f"referrals@{_slug(demo_partner.name)}.example.org",
                    agreement_number=f"IOM-FA-2026-{number:03d}",
                    agreement_valid_from=RATES_FROM,
                    agreement_valid_until=dt.date(2027, 12, 31),
                ),
                office_id=office_ids[country.office],
                actor=actor,
            )
            market.set_vetting_status(partner.id, VettingStatus.APPROVED, actor=actor)
            for demo in demo_partner.options:
                market.create_option(
                    partner.id,
                    _option_input(demo, country),
                    status=OptionStatus.PUBLISHED,
                    actor=actor,
                    today=RATES_FROM,
                )


def _option_input(demo: DemoOption, country: DemoCountry) -> OptionInput:
    cost = Decimal(demo.cost).scaleb(get_currency_precision(country.currency))
    return OptionInput(
        category=demo.category,
        texts=[
            TextInput("en", demo.title, demo.description),
            TextInput(country.language, demo.local_title),
        ],
        locations=[LocationInput(demo.city, demo.region)],
        service_area=[demo.region],
        min_age=demo.min_age,
        vulnerabilities_served=list(demo.serves),
        max_family_size=demo.max_family,
        cost_minor=int(cost),
        currency=country.currency,
        cost_basis=demo.basis,
        delivery_mode=demo.mode,
        duration_days=demo.duration,
        lead_time_days=demo.lead,
        delivery_languages=[country.language],
        capacity_places=demo.places,
        capacity_period=CapacityPeriod.MONTH,
        # rent and other costs per month are paid month by month
        payment_schedule=PaymentSchedule.MONTHLY
        if demo.payment_months or demo.basis == CostBasis.PER_MONTH
        else PaymentSchedule.ONE_OFF,
        payment_months=demo.payment_months,
        valid_from=RATES_FROM,
        valid_until=dt.date(2027, 12, 31),
    )
