/** The REST API: Netty HTTP server, routes, JSON bodies and the one mapping from failures to HTTP errors. */
package cgw.api;
