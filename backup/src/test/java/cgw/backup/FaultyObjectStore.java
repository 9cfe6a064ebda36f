package cgw.backup;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A filter over an object store, as nbdkit's error filter is over a plugin: counts puts and the
 * bytes they carry, and fails every put after the first {@code putsBeforeFailure}.
 */
final class FaultyObjectStore implements ObjectStore {
    private final ObjectStore next;
    private final AtomicLong putsLeft;
    final AtomicLong puts = new AtomicLong();
    final AtomicLong bytesPut = new AtomicLong();

    FaultyObjectStore(ObjectStore next, long putsBeforeFailure) {
        this.next = next;
        this.putsLeft = new AtomicLong(putsBeforeFailure);
    }

    static FaultyObjectStore counting(ObjectStore next) {
        return new FaultyObjectStore(next, Long.MAX_VALUE);
    }

    private void beforePut(String key, byte[] data) {
        if (putsLeft.getAndDecrement() <= 0) {
            throw new BackupException("injected failure putting " + key);
        }
        puts.incrementAndGet();
        bytesPut.addAndGet(data.length);
    }

    @Override
    public void put(String key, byte[] data) {
        beforePut(key, data);
        next.put(key, data);
    }

    @Override
    public void putLater(String key, byte[] data) {
        beforePut(key, data);
        next.putLater(key, data);
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) {
        beforePut(key, data);
        return next.putIfAbsent(key, data);
    }

    @Override
    public void sync() {
        next.sync();
    }

    @Override
    public byte[] get(String key, long maxBytes) {
        return next.get(key, maxBytes);
    }

    @Override
    public boolean exists(String key) {
        return next.exists(key);
    }

    @Override
    public List<String> list(String prefix) {
        return next.list(prefix);
    }

    @Override
    public void delete(String key) {
        next.delete(key);
    }

    @Override
    public void removeIncomplete() {
        next.removeIncomplete();
    }

    @Override
    public String describe() {
        return next.describe();
    }

    @Override
    public void close() {
        next.close();
    }
}
