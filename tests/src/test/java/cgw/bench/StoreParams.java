package cgw.bench;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.nio.file.Path;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * The store options every store benchmark compares, one trial each: the stored block size and
 * where block data lives: {@code log} (the value log, RocksDB holding pointers; the default),
 * {@code lsm} (inside RocksDB's LSM tree) or {@code blob} (RocksDB's BlobDB: blob files written
 * at flush time, keys alone in the LSM tree). Subclasses are JMH states that
 * own one store and one volume for a trial.
 *
 * <p>Threads: set up and torn down by one JMH thread; {@code store} and {@code volume} are then
 * used by every benchmark thread, as the store allows.
 */
@State(Scope.Benchmark)
public abstract class StoreParams {
    static final String VOLUME_NAME = "bench";

    @Param({"4096", "65536"})
    public int blockSizeBytes;

    BlockStore store;
    Volume volume;
    long sizeBytes;

    StoreOptions options() {
        return StoreOptions.defaults().withBlockSizeBytes(blockSizeBytes);
    }

    /** Names a dataset of these options for {@link BenchSpace#prepared}. */
    String datasetKey(long sizeBytes) {
        return "store-bs" + blockSizeBytes + "-" + (sizeBytes >> 20) + "MiB";
    }

    /** Opens a fresh store in a scratch directory with a volume of {@code sizeMiB} holding the pattern. */
    Path openFilled(String name, StoreOptions options, int sizeMiB) {
        Path dir = BenchSpace.scratch(name);
        store = BlockStore.open(dir, options);
        sizeBytes = (long) sizeMiB << 20;
        volume = store.createVolume(VOLUME_NAME, sizeBytes);
        PatternFill.volumeReported(store, volume, sizeBytes);
        return dir;
    }

    /** Closes the store, and deletes its directory unless it is a kept dataset ({@code null}). */
    void close(Path scratchDir) {
        if (store != null) {
            store.close();
            store = null;
        }
        if (scratchDir != null) {
            BenchSpace.delete(scratchDir);
        }
    }
}
