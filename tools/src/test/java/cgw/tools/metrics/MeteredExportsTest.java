package cgw.tools.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import cgw.nbd.export.Export;
import cgw.nbd.export.ExportNotFoundException;
import cgw.nbd.export.ExportRegistry;
import cgw.nbd.export.ReadOnlyExportException;
import cgw.nbd.export.SnapshotNames;
import cgw.nbd.export.StoreExports;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The NBD metrics decorator over the real {@link StoreExports} of a real store, called as the NBD server calls it. */
@Timeout(60)
class MeteredExportsTest {
    private static final String DURATION = "cgw_nbd_request_duration_seconds_count";

    @TempDir
    Path dir;

    private BlockStore store;
    private ExecutorService storeCalls;
    private GatewayMetrics metrics;
    private ExportRegistry exports;

    @BeforeEach
    void start() {
        store = BlockStore.open(dir, StoreOptions.defaults().withCacheBytes(32 << 20, 8 << 20).withBackgroundGc(false));
        storeCalls = Executors.newFixedThreadPool(2);
        metrics = new GatewayMetrics(store);
        exports = metrics.meter(new StoreExports(store, storeCalls, SnapshotNames.retainedEpochs(store)));
    }

    @AfterEach
    void stop() throws InterruptedException {
        metrics.close();
        storeCalls.shutdown();
        storeCalls.awaitTermination(10, TimeUnit.SECONDS);
        store.close();
    }

    private Scrape scrape() {
        return new Scrape(metrics.scrape());
    }

    @Test
    void everyOperationIsCountedUnderItsVolume() {
        Volume disk = store.createVolume("disk", 1 << 20);
        Export head = exports.open("disk");
        head.write(0, ByteBuffer.allocateDirect(8192), false).join();
        head.write(8192, ByteBuffer.allocateDirect(4096), true).join();
        head.read(0, ByteBuffer.allocateDirect(4096)).join();
        head.writeZeroes(0, 4096, false, true).join();
        head.trim(4096, 4096, false).join();
        head.flush().join();
        head.cache(0, 65536).join();
        head.extents(0, 1 << 20).join();
        Export second = exports.open("disk");
        second.read(0, ByteBuffer.allocateDirect(512)).join();
        // a snapshot export counts under its volume; writing it fails in the export
        long epoch = store.cut(disk);
        Export snapshot = exports.open("disk@" + epoch);
        snapshot.read(8192, ByteBuffer.allocateDirect(1024)).join();
        assertThatThrownBy(() -> snapshot.write(0, ByteBuffer.allocateDirect(4096), false).join())
                .isInstanceOf(CompletionException.class).hasCauseInstanceOf(ReadOnlyExportException.class);
        assertThat(scrape().value("cgw_nbd_connections")).isEqualTo(3);
        head.close();
        second.close();
        snapshot.close();

        Scrape scrape = scrape();
        assertThat(scrape.value("cgw_nbd_connections")).isZero();
        assertThat(scrape.value(DURATION, "op", "write", "volume", "disk")).isEqualTo(3);
        assertThat(scrape.value("cgw_nbd_request_errors_total", "op", "write", "volume", "disk")).isEqualTo(1);
        assertThat(scrape.value("cgw_nbd_bytes_total", "op", "write", "volume", "disk")).isEqualTo(8192 + 4096);
        assertThat(scrape.value(DURATION, "op", "read", "volume", "disk")).isEqualTo(3);
        assertThat(scrape.value("cgw_nbd_bytes_total", "op", "read", "volume", "disk")).isEqualTo(4096 + 512 + 1024);
        assertThat(scrape.value("cgw_nbd_request_errors_total", "op", "read", "volume", "disk")).isZero();
        for (String op : new String[]{"write_zeroes", "trim", "flush", "cache", "block_status"}) {
            assertThat(scrape.value(DURATION, "op", op, "volume", "disk")).as(op).isEqualTo(1);
            assertThat(scrape.value("cgw_nbd_request_errors_total", "op", op, "volume", "disk")).as(op).isZero();
            assertThat(scrape.has("cgw_nbd_bytes_total", "op", op, "volume", "disk")).as(op).isFalse();
        }
        assertThat(
                scrape.value("cgw_nbd_request_duration_seconds_bucket", "op", "read", "volume", "disk", "le", "+Inf"))
                .isEqualTo(3);
        assertThat(scrape.buckets("cgw_nbd_request_duration_seconds").firstKey()).isEqualTo(5e-5);
    }

    @Test
    void aDeletedVolumeLeavesTheScrapeAndItsNameStartsFromZero() {
        Volume a = store.createVolume("a", 1 << 20);
        store.createVolume("b", 1 << 20);
        for (String name : new String[]{"a", "b"}) {
            Export export = exports.open(name);
            export.write(0, ByteBuffer.allocateDirect(4096), false).join();
            export.close();
        }
        assertThat(scrape().mentions("volume=\"a\"")).isTrue();

        store.delete(a);
        Scrape afterDelete = scrape();
        assertThat(afterDelete.mentions("volume=\"a\"")).as(afterDelete.toString()).isFalse();
        assertThat(afterDelete.value("cgw_nbd_bytes_total", "op", "write", "volume", "b")).isEqualTo(4096);

        store.createVolume("a", 1 << 20);
        Export again = exports.open("a");
        again.write(0, ByteBuffer.allocateDirect(512), false).join();
        again.close();
        assertThat(scrape().value("cgw_nbd_bytes_total", "op", "write", "volume", "a")).isEqualTo(512);

        // deleted and made again with no scrape between: the new volume's first open starts afresh
        store.delete(store.volume("a"));
        store.createVolume("a", 1 << 20);
        Export third = exports.open("a");
        third.write(0, ByteBuffer.allocateDirect(1024), false).join();
        third.close();
        assertThat(scrape().value("cgw_nbd_bytes_total", "op", "write", "volume", "a")).isEqualTo(1024);
    }

    @Test
    void anUnknownExportIsNotFoundAndLeavesNoMeters() {
        assertThatThrownBy(() -> exports.open("ghost")).isInstanceOf(ExportNotFoundException.class);
        assertThat(scrape().value("cgw_nbd_connections")).isZero();
        assertThat(scrape().mentions("ghost")).isFalse();
    }
}
