package cgw.nbd.transmission;

import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.NbdError;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/**
 * Encodes transmission replies and their chunks. Stateless; any thread. Replies are written in
 * field order, so each layout is its sequence of fields and their sizes:
 *
 * <pre>
 * simple reply (16 bytes, then READ data):
 *   0        4        8                16
 *   | magic  | error  | cookie         |
 * structured reply chunk (20 bytes, then payload):
 *   0        4      6      8                16       20
 *   | magic  | flags| type | cookie         | length |
 * chunk payloads:
 *   OFFSET_DATA   | offset (8) | data ...
 *   OFFSET_HOLE   | offset (8) | hole length (4) |
 *   ERROR         | error (4)  | message length (2) | message ...
 * </pre>
 */
final class Replies {
    private static final int OFFSET_BYTES = Long.BYTES;
    private static final int HOLE_PAYLOAD_BYTES = OFFSET_BYTES + Integer.BYTES;
    private static final int ERROR_PAYLOAD_HEADER_BYTES = Integer.BYTES + Short.BYTES;
    /** Structured chunk header plus the offset of OFFSET_DATA: what comes before the data. */
    static final int DATA_CHUNK_PREFIX_BYTES = Nbd.STRUCTURED_REPLY_HEADER_BYTES + OFFSET_BYTES;
    private static final int MAX_MESSAGE_BYTES = 4096;

    private Replies() {
    }

    static ByteBuf simple(ByteBufAllocator alloc, long cookie, int error) {
        ByteBuf out = alloc.directBuffer(Nbd.SIMPLE_REPLY_HEADER_BYTES);
        writeSimpleHeader(out, cookie, error);
        return out;
    }

    static void writeSimpleHeader(ByteBuf out, long cookie, int error) {
        out.writeInt(Nbd.SIMPLE_REPLY_MAGIC).writeInt(error).writeLong(cookie);
    }

    static void writeChunkHeader(ByteBuf out, int flags, int type, long cookie, long payloadBytes) {
        out.writeInt(Nbd.STRUCTURED_REPLY_MAGIC).writeShort(flags).writeShort(type).writeLong(cookie)
                .writeInt((int) payloadBytes);
    }

    static ByteBuf none(ByteBufAllocator alloc, long cookie) {
        ByteBuf out = alloc.directBuffer(Nbd.STRUCTURED_REPLY_HEADER_BYTES);
        writeChunkHeader(out, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, 0);
        return out;
    }

    /**
     * A refusal: with structured replies, a final error chunk carrying {@code message} for the
     * human at the client; else a simple reply with the error value alone.
     */
    static ByteBuf error(ByteBufAllocator alloc, boolean structured, long cookie, NbdError error, String message) {
        return structured ? errorChunk(alloc, cookie, error.code, message) : simple(alloc, cookie, error.code);
    }

    private static ByteBuf errorChunk(ByteBufAllocator alloc, long cookie, int error, String message) {
        byte[] text = message.getBytes(StandardCharsets.UTF_8);
        int length = Math.min(text.length, MAX_MESSAGE_BYTES);
        ByteBuf out = alloc.directBuffer(Nbd.STRUCTURED_REPLY_HEADER_BYTES + ERROR_PAYLOAD_HEADER_BYTES + length);
        writeChunkHeader(out, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, cookie, ERROR_PAYLOAD_HEADER_BYTES + length);
        out.writeInt(error).writeShort(length).writeBytes(text, 0, length);
        return out;
    }

    static ByteBuf hole(ByteBufAllocator alloc, long cookie, boolean done, long offset, int length) {
        ByteBuf out = alloc.directBuffer(Nbd.STRUCTURED_REPLY_HEADER_BYTES + HOLE_PAYLOAD_BYTES);
        writeChunkHeader(out, done ? Nbd.REPLY_FLAG_DONE : 0, Nbd.REPLY_TYPE_OFFSET_HOLE, cookie, HOLE_PAYLOAD_BYTES);
        out.writeLong(offset).writeInt(length);
        return out;
    }

    static ByteBuf dataPrefix(ByteBufAllocator alloc, long cookie, boolean done, long offset, int length) {
        ByteBuf out = alloc.directBuffer(DATA_CHUNK_PREFIX_BYTES);
        writeDataPrefix(out, cookie, done, offset, length);
        return out;
    }

    static void writeDataPrefix(ByteBuf out, long cookie, boolean done, long offset, int length) {
        writeChunkHeader(out, done ? Nbd.REPLY_FLAG_DONE : 0, Nbd.REPLY_TYPE_OFFSET_DATA, cookie,
                (long) OFFSET_BYTES + length);
        out.writeLong(offset);
    }
}
