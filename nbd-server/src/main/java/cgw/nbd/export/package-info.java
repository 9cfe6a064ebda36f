/** What the NBD server serves: the export SPI and its implementation over the block store. */
package cgw.nbd.export;
