// The API reference page (/docs/api): Swagger UI over the service's OpenAPI document. No inline script (CSP).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    deepLinking: true,
    tryItOutEnabled: false,
    persistAuthorization: false,  // a key stays in this tab only
    supportedSubmitMethods: ["get", "post", "put", "patch", "delete"],
  });
}());
