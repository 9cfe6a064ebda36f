package cgw.nbd.export;

import cgw.store.Extent;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * An export opened by one NBD connection. Every operation is asynchronous: it returns at once and
 * completes its future when the data is applied (and, with {@code fua}, durable), usually from
 * another thread; an operation that can finish without waiting may return it completed.
 * Ranges are validated by the caller against {@link ExportInfo#sizeBytes}. Buffers are owned by the
 * caller, who must not touch them until the future completes. A layer such as the group barrier's
 * epoch gate can wrap an export and delay completions.
 */
public interface Export {
    ExportInfo info();

    /** Fills {@code dst} (position to limit) with the bytes at {@code offset}. */
    CompletableFuture<Void> read(long offset, ByteBuffer dst);

    /** Writes {@code src} (position to limit) at {@code offset}. */
    CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua);

    /** Makes a range read as zeros; {@code mayTrim} lets it become a hole. */
    CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua, boolean mayTrim);

    CompletableFuture<Void> trim(long offset, long length, boolean fua);

    /** Makes every write completed before this call durable, on every connection. */
    CompletableFuture<Void> flush();

    /** A hint that the range will be read soon. */
    CompletableFuture<Void> cache(long offset, long length);

    /** Allocation of the range, in order; the server may answer for a prefix only. */
    CompletableFuture<List<Extent>> extents(long offset, long length);

    /**
     * Which parts of the range were written since the context's snapshot, in order from
     * {@code offset}; the server may answer for a prefix only.
     */
    default CompletableFuture<List<ChangeRun>> changes(ChangedSince since, long offset, long length) {
        return CompletableFuture.failedFuture(
                new UnsupportedOperationException(info().name() + " does not track changed blocks"));
    }

    /** The connection ended; called once, after every operation completed. */
    void close();
}
