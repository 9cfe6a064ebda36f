/** NBD server on Netty: listeners, handshake, transmission; sees only the export SPI and the store API. */
package cgw.nbd;
