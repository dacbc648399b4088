/**
 * What the relay serves to browsers besides the API: the demo chat page, its CSP, and the bundled client.
 * @module
 */
export { CLIENT_JS } from "./client_bundle.ts";
export { demoPage, type DemoPageOptions } from "./demo_page.ts";
export { connectSources, newNonce, pageCsp } from "./page_csp.ts";
