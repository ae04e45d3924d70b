// Starts GraphiQL against this gateway's /graphql. A file, not an inline script, so the page's
// Content-Security-Policy can stay script-src 'self'. The page holds no credential: put yours in
// the Headers tab ({"Authorization": "Bearer <key or token>"}); every query is sent with it and
// checked like any other call.
const fetcher = GraphiQL.createFetcher({ url: "/graphql" });
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: "headers",
    defaultHeaders: '{"Authorization": "Bearer "}',
    shouldPersistHeaders: false,
  }),
);
