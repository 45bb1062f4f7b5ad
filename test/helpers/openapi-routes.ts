// The routes a running daemon declares, read from its OpenAPI document (/api/openapi.json). The app
// refuses to start with a protected route hidden from that document, so tests that sweep every route
// start here and cover routes added later without being edited.

/** The part of a JSON schema the tests read. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  minimum?: number;
}

export interface DocumentedRoute {
  readonly method: string;
  /** The path template, e.g. /api/v1/volumes/{name}. */
  readonly path: string;
  /** Declared without credentials (`security: []`). */
  readonly isPublic: boolean;
  /** The JSON body's schema, when the route takes one. */
  readonly body: JsonSchema | undefined;
}

interface OpenApiDocument {
  paths: Record<
    string,
    Record<
      string,
      { security?: unknown[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }
    >
  >;
}

export function documentedRoutes(document: unknown): DocumentedRoute[] {
  const routes: DocumentedRoute[] = [];
  for (const [path, methods] of Object.entries((document as OpenApiDocument).paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      routes.push({
        method: method.toUpperCase(),
        path,
        isPublic: Array.isArray(operation.security) && operation.security.length === 0,
        body: operation.requestBody?.content?.['application/json']?.schema,
      });
    }
  }
  return routes;
}
