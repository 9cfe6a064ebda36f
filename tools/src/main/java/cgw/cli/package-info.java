/** The {@code cgw} client commands (volume, group, snapshot): requests to the REST API, answers as tables or JSON. */
package cgw.cli;
