package cgw.nbd.export;

import cgw.store.BlockStore;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongFunction;

/**
 * Admission of the I/O of one volume's writable head, between the NBD server and the store. The
 * group barrier's epoch gate implements it: it tags each request with an epoch, may start a
 * mutation later, and may hold a reply while a barrier runs. {@link #OPEN} lets everything
 * through at once at whatever the head epoch is.
 */
@FunctionalInterface
public interface IoGate {
    /**
     * Admits one request. {@code op} starts it and is given the epoch a mutation must be written
     * in ({@link BlockStore#HEAD} for the head as it is when the write applies). The returned
     * future completes with the op's outcome when the gate lets the reply go.
     */
    <T> CompletableFuture<T> submit(boolean mutation, LongFunction<CompletableFuture<T>> op);

    IoGate OPEN = new IoGate() {
        @Override
        public <T> CompletableFuture<T> submit(boolean mutation, LongFunction<CompletableFuture<T>> op) {
            return op.apply(BlockStore.HEAD);
        }
    };
}
