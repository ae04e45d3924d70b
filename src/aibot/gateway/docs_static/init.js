// Starts Swagger UI on the gateway's own OpenAPI document. A file, not an inline script, so the
// page's Content-Security-Policy can stay script-src 'self'.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  queryConfigEnabled: false,
});
