/** NBD protocol constants and byte layouts (NetworkBlockDevice/nbd doc/proto.md). */
package cgw.nbd.wire;
