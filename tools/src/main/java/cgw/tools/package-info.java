/** The {@code cgw} program: command line, daemon wiring, API token, orderly shutdown. */
package cgw.tools;
