package cgw.nbd.handshake;

import cgw.nbd.wire.Nbd;
import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * Reads the strings inside option data, strictly: a length that overruns the option or bytes that
 * are not UTF-8 are the client's error. Stateless; the event loop.
 */
final class OptionData {
    private OptionData() {
    }

    /** Malformed option data, answered with {@code NBD_REP_ERR_INVALID} and this message. */
    static final class InvalidOption extends RuntimeException {
        InvalidOption(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Reads a string preceded by its 32-bit length, leaving at least {@code trailingBytes} of the
     * option after it.
     */
    static String lengthPrefixedString(ByteBuf data, int trailingBytes, String what) {
        if (data.readableBytes() < Integer.BYTES + trailingBytes) {
            throw new InvalidOption(what + " is cut short");
        }
        long length = data.readUnsignedInt();
        if (length > data.readableBytes() - trailingBytes) {
            throw new InvalidOption(what + " length " + length + " overruns the option");
        }
        String value = string(data, (int) length);
        if (value == null) {
            throw new InvalidOption(what + " is not valid UTF-8 of at most " + Nbd.MAX_STRING_BYTES + " bytes");
        }
        return value;
    }

    /** Reads {@code length} bytes as strict UTF-8 (at most 4096 bytes), or null when invalid. */
    static @Nullable String string(ByteBuf data, int length) {
        ByteBuffer bytes = data.nioBuffer(data.readerIndex(), length);
        data.skipBytes(length);
        if (length > Nbd.MAX_STRING_BYTES) {
            return null;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    static byte[] utf8(String value) {
        return value.getBytes(StandardCharsets.UTF_8);
    }
}
