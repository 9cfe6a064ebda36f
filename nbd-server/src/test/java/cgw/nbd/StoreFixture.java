package cgw.nbd;

import cgw.nbd.export.SnapshotNames;
import cgw.nbd.export.StoreExports;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.file.Path;
import java.util.concurrent.Executor;

/**
 * A real block store in a test's directory, exported through {@link StoreExports}: volume
 * {@value #VOLUME} of {@link #SIZE_BYTES}. Store calls run on the given executor; with
 * {@code Runnable::run} they complete on the calling thread, the test's event loop.
 */
public final class StoreFixture implements AutoCloseable {
    public static final String VOLUME = "disk";
    public static final long SIZE_BYTES = 4L << 20;

    public final BlockStore store;
    public final StoreExports exports;
    private EmbeddedChannel channel;

    public StoreFixture(Path dir, Executor executor) {
        store = BlockStore.open(dir.resolve("store"),
                StoreOptions.defaults().withCacheBytes(16 << 20, 4 << 20).withBackgroundGc(false));
        store.createVolume(VOLUME, SIZE_BYTES);
        exports = new StoreExports(store, executor, SnapshotNames.retainedEpochs(store));
    }

    /** Serves {@code channel} from this store: {@link #close} finishes it (releasing what it holds) first. */
    public EmbeddedChannel attach(EmbeddedChannel channel) {
        this.channel = channel;
        return channel;
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
        store.close();
    }
}
