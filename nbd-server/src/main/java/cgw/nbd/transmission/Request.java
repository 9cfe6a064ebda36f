package cgw.nbd.transmission;

import io.netty.buffer.ByteBuf;
import org.jspecify.annotations.Nullable;

/**
 * One decoded transmission request. Owns {@code payload} (a WRITE's data, else null) until it is
 * handed to the export; whoever holds it last releases it once.
 *
 * @param type      the raw command type (see {@link cgw.nbd.wire.Command#of})
 * @param length    the request length, as an unsigned 32-bit value
 * @param oversized a WRITE whose payload exceeded the maximum and was discarded unread
 */
public record Request(int flags, int type, long cookie, long offset, long length, @Nullable ByteBuf payload,
        boolean oversized) {
}
