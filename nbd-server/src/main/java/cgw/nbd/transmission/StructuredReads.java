package cgw.nbd.transmission;

import cgw.nbd.wire.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Encodes the reply to a structured READ whose data has been read: one OFFSET_DATA chunk, or,
 * for a long read without DF, data chunks and OFFSET_HOLE chunks for long zero runs, so that a
 * client copying a sparse export need not compare zeros again.
 *
 * <p>Threads: the channel's event loop; stateless. Never copies the data: chunks are slices of the
 * buffer it was read into.
 */
final class StructuredReads {
    /** Structured reads at least this long are answered with hole chunks for long zero runs. */
    static final int SPARSE_READ_MIN_BYTES = 64 << 10;
    /** Zero runs shorter than this stay inside data chunks. */
    static final int MIN_HOLE_BYTES = 64 << 10;
    static final int HOLE_GRANULE_BYTES = 4096;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(HOLE_GRANULE_BYTES).asReadOnlyBuffer();

    private StructuredReads() {
    }

    /**
     * The reply to {@code r}: {@code reply} holds its {@code length} bytes of data after
     * {@link Replies#DATA_CHUNK_PREFIX_BYTES} bytes of room. Takes ownership of {@code reply}.
     */
    static ByteBuf encode(ByteBufAllocator alloc, Request r, ByteBuf reply, int length) {
        int prefix = Replies.DATA_CHUNK_PREFIX_BYTES;
        boolean dontFragment = (r.flags() & Nbd.CMD_FLAG_DF) != 0;
        if (dontFragment || length < SPARSE_READ_MIN_BYTES) {
            Replies.writeDataPrefix(reply.writerIndex(0), r.cookie(), true, r.offset(), length);
            return reply.writerIndex(prefix + length);
        }
        ByteBuffer data = reply.nioBuffer(prefix, length);
        // granules aligned to the export: the first may be short
        long[] runs = new long[16]; // (start, end, zero) triples
        int count = 0;
        int position = 0;
        while (position < length) {
            int granule = (int) Math.min(length - position,
                    HOLE_GRANULE_BYTES - ((r.offset() + position) % HOLE_GRANULE_BYTES));
            // most granules of data show it in their first bytes: no slices, no scan
            boolean zero = (granule < Long.BYTES || data.getLong(position) == 0)
                    && data.slice(position, granule).mismatch(ZEROS.slice(0, granule)) == -1;
            if (count > 0 && (runs[3 * count - 1] == 1) == zero) {
                runs[3 * count - 2] = position + granule;
            } else {
                if (3 * count + 3 > runs.length) {
                    runs = Arrays.copyOf(runs, runs.length * 2);
                }
                runs[3 * count] = position;
                runs[3 * count + 1] = position + granule;
                runs[3 * count + 2] = zero ? 1 : 0;
                count++;
            }
            position += granule;
        }
        // short zero runs are cheaper as data: fold them into their neighbours
        CompositeByteBuf out = alloc.compositeDirectBuffer(Math.max(2, count * 2));
        int dataStart = -1;
        for (int i = 0; i < count; i++) {
            int start = (int) runs[3 * i];
            int end = (int) runs[3 * i + 1];
            boolean hole = runs[3 * i + 2] == 1 && end - start >= MIN_HOLE_BYTES;
            if (!hole) {
                if (dataStart < 0) {
                    dataStart = start;
                }
                continue;
            }
            if (dataStart >= 0) {
                addData(alloc, out, r, reply, dataStart, start, false);
                dataStart = -1;
            }
            out.addComponent(true, Replies.hole(alloc, r.cookie(), end == length, r.offset() + start, end - start));
        }
        if (dataStart >= 0) {
            addData(alloc, out, r, reply, dataStart, length, true);
        }
        reply.release();
        return out;
    }

    private static void addData(ByteBufAllocator alloc, CompositeByteBuf out, Request r, ByteBuf reply,
            int start, int end, boolean done) {
        out.addComponent(true, Replies.dataPrefix(alloc, r.cookie(), done, r.offset() + start, end - start));
        out.addComponent(true, reply.retainedSlice(Replies.DATA_CHUNK_PREFIX_BYTES + start, end - start));
    }
}
