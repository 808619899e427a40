// Swagger UI over the app's own OpenAPI document; kept out of the page so the CSP needs no inline script.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.specUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  withCredentials: true,
});
