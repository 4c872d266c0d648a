/** The service's version: the landing page, stripe-node's appInfo and the OpenAPI document (a test keeps it equal to package.json's). */
export const VERSION = '1.0.0'
