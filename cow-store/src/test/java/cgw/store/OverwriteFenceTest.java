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
            assertThat(log.mayOverwrite(first.segment(), 4096)).as("appended by this open, not flushed").isTrue();
            CompletableFuture<LogPosition> freeze = CompletableFuture.supplyAsync(log::freeze);
            // a freeze must not pass an overwrite that chose its target before it
            assertThatThrownBy(() -> freeze.get(200, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
            permit.unlock();
            assertThat(freeze.get(10, TimeUnit.SECONDS)).isEqualTo(new LogPosition(first.segment(), 8192));
            permit.lock();
            try {
                assertThat(log.mayOverwrite(first.segment(), 4096)).isFalse();
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
            assertThat(log.freeze()).isEqualTo(new LogPosition(slow.segment(), 0));
            assertThat(log.mayOverwrite(done.segment(), done.position())).as("frozen all the same").isFalse();
            slow.write(0, ByteBuffer.allocate(4096));
            slow.finish();
            assertThat(log.freeze()).isEqualTo(new LogPosition(slow.segment(), 8192));
        }
    }

    @Test
    void everythingFoundAtOpenIsFrozenAndAForcedCopyToo() {
        int segment;
        try (ValueLog log = ValueLog.open(dir, 1 << 20, new Durability(dir))) {
            ValueLog.Reservation copy = log.reserve(4096);
            copy.write(0, ByteBuffer.allocate(4096));
            copy.force();
            assertThat(log.mayOverwrite(copy.segment(), 0)).as("a relocated copy, durable").isFalse();
            copy.finish();
            segment = copy.segment();
        }
        try (ValueLog log = ValueLog.open(dir, 1 << 20, new Durability(dir))) {
            assertThat(log.mayOverwrite(segment, 1 << 19)).isFalse();
            assertThat(log.freeze()).isEqualTo(new LogPosition(segment + 1, 0));
        }
    }
}
