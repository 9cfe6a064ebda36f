package cgw.backup;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A lock on a repository, as an object {@code locks/KIND-UUID}: exports, restores and verifies
 * take shared locks, prune an exclusive one. Taking a lock writes it, then lists the others; a
 * conflicting live one makes us delete ours and fail. Two takers racing both see each other (a
 * list shows every completed put) and both back off: never both win. A lock is dead, ignored
 * (and deleted by an exclusive taker), when it was not refreshed for {@link #STALE_AFTER_MS}, or
 * at once when its holder ran on this host and that process is gone (no process with its pid, or
 * one started at another time): a gateway killed during an export does not block prune for half
 * an hour. Holders refresh every {@link #REFRESH_EVERY_MS} through {@link #refreshIfDue}. Owned by
 * the thread running the job.
 */
public final class RepositoryLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RepositoryLock.class);
    static final String PREFIX = "locks/";
    static final long STALE_AFTER_MS = 30 * 60_000L;
    static final long REFRESH_EVERY_MS = 5 * 60_000L;

    /**
     * The lock object's JSON. {@code host}, {@code pid} and {@code processStartMillis} name the
     * holding process (absent, null or 0, in locks of older versions: only the age counts).
     */
    record Record(boolean exclusive, String holder, long createdAtMillis, long refreshedAtMillis, String host,
            long pid, long processStartMillis) {
        Record refreshed(long now) {
            return new Record(exclusive, holder, createdAtMillis, now, host, pid, processStartMillis);
        }
    }

    /** This process: host name, pid and start time, as a lock records them. */
    private static final String HOST = hostName();
    private static final long PID = ProcessHandle.current().pid();
    private static final long START_MILLIS = startMillis(ProcessHandle.current());

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
        String holder = purpose + " by " + PID + "@" + HOST;
        Record record = new Record(exclusive, holder, now, now, HOST, PID, START_MILLIS);
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
            String dead = now - theirs.refreshedAtMillis() > STALE_AFTER_MS
                    ? "not refreshed since " + theirs.refreshedAtMillis()
                    : theirs.refreshedAtMillis() - now > STALE_AFTER_MS
                            // no clock is that far ahead: a hostile or broken writer must not lock forever
                            ? "dated " + theirs.refreshedAtMillis() + ", in the future"
                            : holderIsGone(theirs) ? "its process is gone" : null;
            if (dead != null) {
                LOG.warn("{} dead lock {} of {}: {}", exclusive ? "removing" : "ignoring", other, theirs.holder(),
                        dead);
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

    /** True when the lock's holder ran on this host and no longer runs. */
    static boolean holderIsGone(Record lock) {
        if (lock.host() == null || lock.pid() <= 0 || !lock.host().equals(HOST)) {
            return false;
        }
        Optional<ProcessHandle> process = ProcessHandle.of(lock.pid());
        if (process.isEmpty() || !process.get().isAlive()) {
            return true;
        }
        long start = startMillis(process.get());
        // the pid was reused by a later process; start times come from /proc, rounded differently
        return lock.processStartMillis() > 0 && start > 0 && Math.abs(start - lock.processStartMillis()) > 2000;
    }

    private static long startMillis(ProcessHandle process) {
        return process.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
    }

    private static String hostName() {
        String name = ManagementFactory.getRuntimeMXBean().getName(); // "pid@host"
        return name.substring(name.indexOf('@') + 1);
    }

    private static Record read(ObjectStore objects, String key) {
        try {
            return ManifestCodec.JSON.readValue(objects.get(key, Repository.MAX_SMALL_OBJECT_BYTES), Record.class);
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
            objects.put(key, toJson(record.refreshed(now)));
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
