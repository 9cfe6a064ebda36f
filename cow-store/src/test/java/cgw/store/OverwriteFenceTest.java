package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Lock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OverwriteFenceTest {
    @TempDir
    Path dir;

    @Test
    void aFreezeEndsOverwritesOfEverythingAppendedAndWaitsForThoseInFlight() throws Exception {
        try (ValueLog log = ValueLog.open(dir, 1 << 20, new Durability(dir))) {
            ValueLog.Reservation first = log.reserve(8192);
            first.write(0, ByteBuffer.allocate(8192));
            first.finish();
            Lock permit = log.overwritePermit();
            permit.lock();
            assertThat(mayOverwrite(log, first.segment(), 4096)).as("appended by this open, not flushed").isTrue();
            CompletableFuture<LogPosition> freeze = CompletableFuture.supplyAsync(() -> log.freeze().written());
            // a freeze must not pass an overwrite that chose its target before it
            assertThatThrownBy(() -> freeze.get(200, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
            permit.unlock();
            assertThat(freeze.get(10, TimeUnit.SECONDS)).isEqualTo(new LogPosition(first.segment(), 8192));
            permit.lock();
            try {
                assertThat(mayOverwrite(log, first.segment(), 4096)).isFalse();
            } finally {
                permit.unlock();
            }
        }
    }

    /** A reservation still being written when the log freezes holds the mark before it: its bytes may come after the sync. */
    @Test
    void theMarkStopsBeforeAReservationStillBeingWritten() {
        try (ValueLog log = ValueLog.open(dir, 1 << 20, new Durability(dir))) {
            ValueLog.Reservation slow = log.reserve(4096);
            ValueLog.Reservation done = log.reserve(4096);
            done.write(0, ByteBuffer.allocate(4096));
            done.finish();
            assertThat(log.freeze().written()).isEqualTo(new LogPosition(slow.segment(), 0));
            assertThat(mayOverwrite(log, done.segment(), done.position())).as("frozen all the same").isFalse();
            slow.write(0, ByteBuffer.allocate(4096));
            slow.finish();
            assertThat(log.freeze().written()).isEqualTo(new LogPosition(slow.segment(), 8192));
        }
    }

    @Test
    void everythingFoundAtOpenIsFrozenAndAForcedCopyToo() {
        int segment;
        try (ValueLog log = ValueLog.open(dir, 1 << 20, new Durability(dir))) {
            ValueLog.Reservation copy = log.reserve(4096);
            copy.write(0, ByteBuffer.allocate(4096));
            copy.force();
            assertThat(mayOverwrite(log, copy.segment(), 0)).as("a relocated copy, durable").isFalse();
            copy.finish();
            segment = copy.segment();
        }
        try (ValueLog log = ValueLog.open(dir, 1 << 20, new Durability(dir))) {
            assertThat(mayOverwrite(log, segment, 1 << 19)).isFalse();
            assertThat(log.freeze().written()).isEqualTo(new LogPosition(segment + 1, 0));
        }
    }

    /**
     * Flushed bytes are overwritten in place once they are durable and their range is recorded,
     * once per window between freezes; an open after a crash lists the ranges no sync covered.
     */
    @Test
    void flushedBytesAreOverwrittenOnceDurableAndRecordedForTheirWindow() throws Exception {
        Durability durability = new Durability(dir);
        ValueLog.Reservation written;
        try (ValueLog log = ValueLog.open(dir, 1 << 20, durability);
                FlushedOverwrites record = FlushedOverwrites.open(dir.resolve(ValueLog.DIRECTORY), durability)) {
            log.useFlushedOverwrites(record);
            record.useBlockSize(4096);
            written = log.reserve(65536);
            written.write(0, ByteBuffer.allocate(65536));
            written.finish();
            OverwriteFence.Frozen frozen = log.freeze();
            int segment = written.segment();
            assertThat(log.mayOverwrite(segment, 0, 65536, OverwriteFence.Marking.RECORD))
                    .as("frozen, not durable yet").isFalse();
            log.sync();
            log.synced(frozen);
            Lock permit = log.overwritePermit();
            permit.lock();
            try {
                assertThat(log.mayOverwrite(segment, 0, 65536, OverwriteFence.Marking.ASK)).isTrue();
                assertThat(log.mayOverwrite(segment, 0, 65536, OverwriteFence.Marking.RECORDED))
                        .as("not recorded yet").isFalse();
                assertThat(log.mayOverwrite(segment, 0, 65536, OverwriteFence.Marking.RECORD)).isTrue();
                assertThat(log.mayOverwrite(segment, 4096, 65536, OverwriteFence.Marking.RECORDED)).isTrue();
                assertThat(log.mayOverwrite(segment, 0, 65537, OverwriteFence.Marking.RECORD))
                        .as("past what is durable").isFalse();
            } finally {
                permit.unlock();
            }
            OverwriteFence.Frozen next = log.freeze();
            assertThat(log.mayOverwrite(segment, 0, 65536, OverwriteFence.Marking.RECORDED))
                    .as("a new window").isFalse();
            try (FlushedOverwrites crashed = FlushedOverwrites.open(dir.resolve(ValueLog.DIRECTORY), durability)) {
                assertThat(crashed.unflushed()).as("what an open after a crash now reads")
                        .containsExactly(new FlushedOverwrites.Range(segment, 4096, 0, 65536, frozen.window() + 1));
            }
            log.sync();
            log.synced(next);
        }
        try (FlushedOverwrites reopened = FlushedOverwrites.open(dir.resolve(ValueLog.DIRECTORY), durability)) {
            assertThat(reopened.unflushed()).as("after the sync that covered it").isEmpty();
        }
    }

    /**
     * A sync makes durable what was written before it began, freeze or not: once frozen, those
     * bytes may be overwritten in place (recorded) without waiting for the freeze's own sync,
     * which after a first write of gigabytes takes seconds, while a rewrite would append.
     */
    @Test
    void bytesASyncMadeDurableMayBeOverwrittenOnceFrozenBeforeTheFreezesSyncReturns() throws Exception {
        Durability durability = new Durability(dir);
        try (ValueLog log = ValueLog.open(dir, 1 << 20, durability);
                FlushedOverwrites record = FlushedOverwrites.open(dir.resolve(ValueLog.DIRECTORY), durability)) {
            log.useFlushedOverwrites(record);
            record.useBlockSize(4096);
            ValueLog.Reservation written = log.reserve(65536);
            written.write(0, ByteBuffer.allocate(65536));
            written.finish();
            ValueLog.Reservation writing = log.reserve(65536);
            log.sync();
            writing.write(0, ByteBuffer.allocate(65536));
            writing.finish();
            log.freeze();
            Lock permit = log.overwritePermit();
            permit.lock();
            try {
                assertThat(log.mayOverwrite(written.segment(), 0, 65536, OverwriteFence.Marking.RECORD)).isTrue();
                assertThat(log.mayOverwrite(writing.segment(), writing.position(), writing.position() + 65536,
                        OverwriteFence.Marking.RECORD)).as("still being written when the sync began").isFalse();
            } finally {
                permit.unlock();
            }
        }
    }

    @Test
    void aSyncAheadSyncsOnlyWhenSixteenMibAreNotKnownDurable() {
        try (ValueLog log = ValueLog.open(dir, 4 << 20, new Durability(dir))) {
            ByteBuffer mib = ByteBuffer.allocate(1 << 20);
            for (int i = 0; i < 15; i++) {
                ValueLog.Reservation r = log.reserve(1 << 20);
                r.write(0, mib.clear());
                r.finish();
            }
            assertThat(log.syncAhead()).isFalse();
            ValueLog.Reservation last = log.reserve(1 << 20);
            last.write(0, mib.clear());
            last.finish();
            assertThat(log.syncAhead()).isTrue();
            assertThat(log.hasUnsynced()).isFalse();
            assertThat(log.syncAhead()).as("all of it durable now").isFalse();
        }
    }

    private static boolean mayOverwrite(ValueLog log, int segment, long position) {
        return log.mayOverwrite(segment, position, position + 4096, OverwriteFence.Marking.RECORDED);
    }
}
