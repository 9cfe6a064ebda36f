package cgw.backup;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A lock on a repository, as an object {@code locks/KIND-UUID}: exports, restores and verifies
 * take shared locks, prune an exclusive one. Taking a lock writes it, then lists the others; a
 * conflicting live one makes us delete ours and fail. Two takers racing both see each other (a
 * list shows every completed put) and both back off: never both win. A lock not refreshed for
 * {@link #STALE_AFTER_MS} (a crashed holder) is ignored; holders refresh every
 * {@link #REFRESH_EVERY_MS} through {@link #refreshIfDue}. Owned by the thread running the job.
 */
public final class RepositoryLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RepositoryLock.class);
    static final String PREFIX = "locks/";
    static final long STALE_AFTER_MS = 30 * 60_000L;
    static final long REFRESH_EVERY_MS = 5 * 60_000L;

    /** The lock object's JSON. */
    record Record(boolean exclusive, String holder, long createdAtMillis, long refreshedAtMillis) {
    }

    private final ObjectStore objects;
    private final String key;
    private final Record record;
    private long refreshedAtMillis;
    private boolean released;

    private RepositoryLock(ObjectStore objects, String key, Record record) {
        this.objects = objects;
        this.key = key;
        this.record = record;
        this.refreshedAtMillis = record.refreshedAtMillis();
    }

    static RepositoryLock acquire(ObjectStore objects, boolean exclusive, String purpose) {
        long now = System.currentTimeMillis();
        String holder = purpose + " by " + ManagementFactory.getRuntimeMXBean().getName();
        Record record = new Record(exclusive, holder, now, now);
        String key = PREFIX + (exclusive ? "exclusive-" : "shared-") + UUID.randomUUID();
        objects.put(key, toJson(record));
        List<String> conflicts = new ArrayList<>();
        for (String other : objects.list(PREFIX)) {
            if (other.equals(key) || (!exclusive && !other.startsWith(PREFIX + "exclusive-"))) {
                continue;
            }
            Record theirs = read(objects, other);
            if (theirs == null) {
                continue;
            }
            if (now - theirs.refreshedAtMillis() > STALE_AFTER_MS) {
                LOG.warn("{} stale lock {} of {}, last refreshed at {}", exclusive ? "removing" : "ignoring", other,
                        theirs.holder(), theirs.refreshedAtMillis());
                if (exclusive) {
                    // its holder crashed; under our exclusive lock nobody else removes it concurrently
                    objects.delete(other);
                }
                continue;
            }
            conflicts.add((theirs.exclusive() ? "exclusive" : "shared") + " lock of " + theirs.holder());
        }
        if (!conflicts.isEmpty()) {
            objects.delete(key);
            throw new RepositoryLockedException(objects.describe() + " is locked: " + String.join(", ", conflicts));
        }
        return new RepositoryLock(objects, key, record);
    }

    private static Record read(ObjectStore objects, String key) {
        try {
            return ManifestCodec.JSON.readValue(objects.get(key), Record.class);
        } catch (ObjectNotFoundException e) {
            return null; // released meanwhile
        } catch (IOException e) {
            throw new CorruptObjectException(key + ": unreadable lock: " + e.getMessage(), e);
        }
    }

    private static byte[] toJson(Record record) {
        try {
            return ManifestCodec.JSON.writeValueAsBytes(record);
        } catch (IOException e) {
            throw new IllegalStateException("lock record does not serialise", e);
        }
    }

    /** Rewrites the lock with the current time when the last refresh is older than {@link #REFRESH_EVERY_MS}. */
    public void refreshIfDue() {
        long now = System.currentTimeMillis();
        if (!released && now - refreshedAtMillis >= REFRESH_EVERY_MS) {
            objects.put(key, toJson(new Record(record.exclusive(), record.holder(), record.createdAtMillis(), now)));
            refreshedAtMillis = now;
        }
    }

    /** Deletes the lock object. Idempotent. */
    @Override
    public void close() {
        if (!released) {
            released = true;
            objects.delete(key);
        }
    }
}
