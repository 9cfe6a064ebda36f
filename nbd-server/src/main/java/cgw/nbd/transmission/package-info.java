/** The transmission phase: request decoding, dispatch to an export, replies. */
package cgw.nbd.transmission;
