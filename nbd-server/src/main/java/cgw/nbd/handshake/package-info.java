/** Fixed newstyle negotiation: options, export selection, STARTTLS. */
package cgw.nbd.handshake;
