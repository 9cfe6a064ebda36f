package cgw.nbd.export;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replica's volume export shows its newest complete epoch, and each new epoch retires an older
 * one: a client that opens the export just as the epoch it resolved is retired gets the newer
 * one, not a dropped connection.
 */
class MovingHeadViewTest {
    @TempDir
    Path dir;

    @Test
    void aViewRetiredWhileOpeningIsResolvedAgain() {
        try (BlockStore store = BlockStore.open(dir.resolve("store"),
                StoreOptions.defaults().withCacheBytes(16 << 20, 4 << 20).withBackgroundGc(false))) {
            Volume volume = store.createVolume("v", 1 << 20);
            long older = store.cut(volume);
            store.write(volume, 0, ByteBuffer.allocate(4096));
            long newer = store.cut(volume);
            store.release(volume, older);
            AtomicInteger asked = new AtomicInteger();
            // the first answer is the epoch just retired, as when a new one replaced it meanwhile
            HeadViews views = v -> asked.getAndIncrement() == 0 ? older : newer;
            StoreExports exports = new StoreExports(store, Runnable::run, SnapshotNames.retainedEpochs(store),
                    v -> IoGate.OPEN, views);

            ExportInfo found = exports.find("v");
            assertThat(found).isNotNull();
            assertThat(found.description()).contains("at epoch " + newer);

            asked.set(0);
            Export export = exports.open("v");
            assertThat(export.info().description()).contains("at epoch " + newer);
            export.close();

            HeadViews stuck = v -> older;
            StoreExports gone = new StoreExports(store, Runnable::run, SnapshotNames.retainedEpochs(store),
                    v -> IoGate.OPEN, stuck);
            assertThat(gone.find("v")).as("a view that keeps naming a retired epoch").isNull();
            assertThatThrownBy(() -> gone.open("v")).isInstanceOf(ExportNotFoundException.class);
        }
    }
}
