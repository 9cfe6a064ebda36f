package cgw.nbd.handshake;

import io.netty.buffer.ByteBuf;

/**
 * One option the client sent, whole. Owns {@code data} (a retained slice of what arrived); whoever
 * handles the option releases it.
 *
 * @param code the raw option code (see {@link cgw.nbd.wire.Option#of})
 */
record OptionRequest(int code, ByteBuf data) {
}
