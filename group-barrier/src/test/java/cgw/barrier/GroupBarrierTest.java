package cgw.barrier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import cgw.store.VolumeExistsException;
import cgw.store.VolumeNotFoundException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class GroupBarrierTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    private final ExecutorService io = Executors.newFixedThreadPool(4);

    @AfterEach
    void stopIo() throws InterruptedException {
        io.shutdownNow();
        io.awaitTermination(10, TimeUnit.SECONDS);
    }

    private BlockStore open() {
        return BlockStore.open(dir, StoreOptions.defaults().withCacheBytes(32 << 20, 8 << 20).withBackgroundGc(false));
    }

    private static ByteBuffer filled(int length, int value) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) value);
        return ByteBuffer.wrap(bytes);
    }

    private static byte[] read(BlockStore store, Volume volume, long epoch, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocate(length);
        store.read(volume, epoch, offset, dst);
        return dst.array();
    }

    /** A write through the volume's gate, as the NBD server makes them, applied on the io pool. */
    private CompletableFuture<Void> write(GroupBarrier barrier, BlockStore store, Volume volume, long offset,
            int length, int value, CountDownLatch startGate) {
        return barrier.gate(volume).submit(true, epoch -> CompletableFuture.runAsync(() -> {
            try {
                startGate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            store.write(volume, epoch, offset, filled(length, value));
        }, io));
    }

    private CompletableFuture<Void> write(GroupBarrier barrier, BlockStore store, Volume volume, long offset,
            int length, int value) {
        return write(barrier, store, volume, offset, length, value, new CountDownLatch(0));
    }

    /** Waits until a barrier switched the gate of {@code volume} from its first epoch. */
    private static void awaitSwitched(GroupBarrier barrier, Volume volume) {
        await("the barrier switches the gate of " + volume.name()).atMost(TIMEOUT)
                .until(() -> barrier.gate(volume).epoch() > 1);
    }

    @Test
    void aGroupSnapshotHoldsEveryVolumeAsItWasAndClonesReadIt() {
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            Volume wal = store.createVolume("wal", 1 << 20);
            Volume data = store.createVolume("data", 1 << 20);
            barrier.createGroup("db", List.of("wal", "data"));
            write(barrier, store, wal, 0, 4096, 1).join();
            write(barrier, store, data, 0, 4096, 2).join();

            Snapshot snapshot = barrier.snapshotGroup("db", "nightly", TIMEOUT);
            write(barrier, store, wal, 0, 4096, 3).join();
            write(barrier, store, data, 100, 10, 4).join();

            assertThat(snapshot.id()).isPositive();
            assertThat(snapshot.group()).isEqualTo("db");
            assertThat(snapshot.label()).isEqualTo("nightly");
            assertThat(snapshot.volumeNames()).containsExactly("wal", "data");
            assertThat(barrier.snapshots("db")).containsExactly(snapshot);
            assertThat(read(store, wal, barrier.epochOf(wal, snapshot.id()), 0, 4096)).containsOnly(1);
            assertThat(read(store, data, barrier.epochOf(data, snapshot.id()), 0, 4096)).containsOnly(2);
            assertThat(read(store, data, data.headEpoch(), 100, 10)).containsOnly(4);

            Map<String, String> clones = barrier.cloneSnapshot(snapshot.id(), "restored-");
            assertThat(clones).containsExactly(Map.entry("wal", "restored-wal"), Map.entry("data", "restored-data"));
            Volume clone = store.volume("restored-data");
            assertThat(read(store, clone, clone.headEpoch(), 0, 4096)).containsOnly(2);
            // a second clone with the same prefix clashes before anything is made
            assertThatThrownBy(() -> barrier.cloneSnapshot(snapshot.id(), "restored-"))
                    .isInstanceOf(VolumeExistsException.class);
        }
    }

    @Test
    void writesAdmittedBeforeTheSwitchLandInTheSnapshotEvenWhenAppliedAfterIt() throws Exception {
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            Volume a = store.createVolume("a", 1 << 20);
            Volume b = store.createVolume("b", 1 << 20);
            CountDownLatch slow = new CountDownLatch(1);
            CompletableFuture<Void> late = write(barrier, store, a, 512, 512, 7, slow);

            Future<Snapshot> taking = Executors.newSingleThreadExecutor()
                    .submit(() -> barrier.snapshotVolumes(List.of("a", "b"), null, TIMEOUT));
            // the barrier switched the gates and waits for the late write; a newer write waits behind it
            awaitSwitched(barrier, a);
            CompletableFuture<Void> newer = write(barrier, store, a, 0, 4096, 8);
            assertThat(taking.isDone()).isFalse();
            slow.countDown();
            Snapshot snapshot = taking.get(10, TimeUnit.SECONDS);
            newer.get(10, TimeUnit.SECONDS);
            late.get(10, TimeUnit.SECONDS);

            long epoch = barrier.epochOf(a, snapshot.id());
            assertThat(read(store, a, epoch, 512, 512)).as("the late write is in the snapshot").containsOnly(7);
            assertThat(read(store, a, epoch, 0, 512)).containsOnly(0);
            assertThat(read(store, a, a.headEpoch(), 0, 4096)).as("the newer write came after it").containsOnly(8);
            assertThat(snapshot.group()).isNull();
        }
    }

    @Test
    void aBarrierWhoseOldWritesNeverFinishTimesOutAndPublishesNothing() throws Exception {
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            Volume a = store.createVolume("a", 1 << 20);
            store.createVolume("b", 1 << 20);
            CountDownLatch stalled = new CountDownLatch(1);
            CompletableFuture<Void> stuck = write(barrier, store, a, 0, 4096, 5, stalled);

            assertThatThrownBy(() -> barrier.snapshotVolumes(List.of("a", "b"), null, Duration.ofMillis(200)))
                    .isInstanceOf(BarrierTimeoutException.class).hasMessageContaining("on a;");
            assertThat(barrier.snapshots(null)).isEmpty();
            assertThat(store.retainedEpochs(a)).isEmpty();
            // I/O goes on: reads are not held, and the stuck write lands when the disk wakes up
            CompletableFuture<Void> read = barrier.gate(a).submit(false,
                    epoch -> CompletableFuture.completedFuture(null));
            assertThat(read).isDone();
            stalled.countDown();
            stuck.get(10, TimeUnit.SECONDS);
            assertThat(read(store, a, a.headEpoch(), 0, 4096)).containsOnly(5);
            // and the next barrier works
            Snapshot next = barrier.snapshotVolumes(List.of("a", "b"), null, TIMEOUT);
            assertThat(read(store, a, barrier.epochOf(a, next.id()), 0, 4096)).containsOnly(5);
        }
    }

    @Test
    void membershipChangesAndDeletionsDuringASnapshotAreSerialisedOrRefused() throws Exception {
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            Volume a = store.createVolume("a", 1 << 20);
            store.createVolume("b", 1 << 20);
            Volume c = store.createVolume("c", 1 << 20);
            barrier.createGroup("g", List.of("a", "b"));
            CountDownLatch slow = new CountDownLatch(1);
            CompletableFuture<Void> late = write(barrier, store, a, 0, 4096, 3, slow);
            ExecutorService callers = Executors.newFixedThreadPool(2);
            try {
                Future<Snapshot> taking = callers.submit(() -> barrier.snapshotGroup("g", null, TIMEOUT));
                awaitSwitched(barrier, a);
                // the membership changes at once; the running snapshot keeps the volumes it started with
                barrier.setGroup("g", List.of("b", "c"));
                // deleting a volume of the running snapshot waits for it, then is refused: the snapshot holds it
                barrier.setGroup("g", List.of("b"));
                CompletableFuture<Thread> deleter = new CompletableFuture<>();
                Future<?> deleting = callers.submit(() -> {
                    deleter.complete(Thread.currentThread());
                    barrier.deleteVolume(a, () -> {
                    });
                });
                Thread deleterThread = deleter.get(10, TimeUnit.SECONDS);
                await("the deletion blocks or ends").atMost(TIMEOUT).until(() -> deleting.isDone()
                        || deleterThread.getState() == Thread.State.WAITING
                        || deleterThread.getState() == Thread.State.BLOCKED);
                assertThat(deleting.isDone()).as("deletion waits for the barrier on the volume").isFalse();
                slow.countDown();
                Snapshot snapshot = taking.get(10, TimeUnit.SECONDS);
                late.get(10, TimeUnit.SECONDS);
                assertThat(snapshot.volumeNames()).containsExactly("a", "b");
                assertThatThrownBy(() -> deleting.get(10, TimeUnit.SECONDS))
                        .hasCauseInstanceOf(ConflictException.class).hasMessageContaining("in snapshots");
                assertThat(barrier.snapshotGroup("g", null, TIMEOUT).volumeNames()).containsExactly("b");
                // a volume no snapshot or group holds is deleted, even right after a barrier on it
                barrier.snapshotVolumes(List.of("c"), null, TIMEOUT);
                barrier.snapshots(null).stream().filter(s -> s.volumeNames().contains("c"))
                        .forEach(s -> barrier.deleteSnapshot(s.id()));
                barrier.deleteVolume(c, () -> {
                });
                assertThatThrownBy(() -> store.volume("c")).isInstanceOf(VolumeNotFoundException.class);
            } finally {
                slow.countDown();
                callers.shutdownNow();
            }
        }
    }

    @Test
    @Timeout(60)
    void listenersHearOfEverySnapshotAndEveryBarrierThatFailed() throws Exception {
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            Volume a = store.createVolume("a", 1 << 20);
            List<Object> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
            barrier.addListener(new GroupBarrier.SnapshotListener() {
                @Override
                public void taken(Snapshot snapshot) {
                    heard.add(snapshot);
                }

                @Override
                public void failed(RuntimeException failure) {
                    heard.add(failure);
                }
            });
            // busy: a volume deletion holds the volume's barrier lock for the whole timeout
            CountDownLatch deleting = new CountDownLatch(1);
            CountDownLatch refuse = new CountDownLatch(1);
            Future<?> delete = io.submit(() -> barrier.deleteVolume(a, () -> {
                deleting.countDown();
                try {
                    refuse.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new ConflictException("kept");
            }));
            assertThat(deleting.await(10, TimeUnit.SECONDS)).isTrue();
            assertThatThrownBy(() -> barrier.snapshotVolumes(List.of("a"), null, Duration.ofMillis(50)))
                    .isInstanceOf(BarrierBusyException.class);
            refuse.countDown();
            assertThatThrownBy(() -> delete.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(ConflictException.class);

            Snapshot taken = barrier.snapshotVolumes(List.of("a"), null, TIMEOUT);

            // timeout: a write of the old epoch never finishes
            CountDownLatch stalled = new CountDownLatch(1);
            CompletableFuture<Void> stuck = write(barrier, store, a, 0, 4096, 5, stalled);
            assertThatThrownBy(() -> barrier.snapshotVolumes(List.of("a"), null, Duration.ofMillis(100)))
                    .isInstanceOf(BarrierTimeoutException.class);
            stalled.countDown();
            stuck.get(10, TimeUnit.SECONDS);

            // refused before it started: not a barrier
            assertThatThrownBy(
                    () -> barrier.snapshotVolumes(List.of("a"), "x".repeat(GroupBarrier.MAX_LABEL_LENGTH + 1),
                            TIMEOUT))
                    .isInstanceOf(InvalidBarrierRequestException.class);
            assertThatThrownBy(() -> barrier.snapshotVolumes(List.of("ghost"), null, TIMEOUT))
                    .isInstanceOf(VolumeNotFoundException.class);

            assertThat(heard).hasSize(3);
            assertThat(heard.get(0)).isInstanceOf(BarrierBusyException.class);
            assertThat(heard.get(1)).isEqualTo(taken);
            assertThat(heard.get(2)).isInstanceOf(BarrierTimeoutException.class);
        }
    }

    @Test
    void committedSnapshotsSurviveARestartAndUnfinishedBarriersAreRolledBack() {
        long id;
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            Volume a = store.createVolume("a", 1 << 20);
            store.createVolume("b", 1 << 20);
            barrier.createGroup("g", List.of("a", "b"));
            write(barrier, store, a, 0, 4096, 9).join();
            id = barrier.snapshotGroup("g", "kept", TIMEOUT).id();
            // a crash between the cut and the commit leaves a pending record and sealed epochs
            store.cut(List.of(a), epochs -> CatalogRecords.putSnapshot(new cgw.store.CatalogChanges(),
                    new Snapshot(id + 1, "g", null, 0, List.of(new Snapshot.Member("a", a.id(), epochs[0])), 0),
                    CatalogRecords.StoredSnapshot.PENDING));
            assertThat(store.retainedEpochs(a)).hasSize(2);
        }
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            Volume a = store.volume("a");
            assertThat(barrier.snapshots(null)).extracting(Snapshot::id).containsExactly(id);
            assertThat(barrier.snapshot(id).label()).isEqualTo("kept");
            assertThat(store.retainedEpochs(a)).containsExactly(barrier.epochOf(a, id));
            assertThat(read(store, a, barrier.epochOf(a, id), 0, 4096)).containsOnly(9);
            assertThat(barrier.group("g").volumes()).containsExactly("a", "b");
            assertThat(barrier.snapshotGroup("g", null, TIMEOUT).id()).as("ids keep growing").isGreaterThan(id + 1);
        }
    }

    /** Backups and changed-block queries name snapshots by id: an id deleted is never given again. */
    @Test
    void deletedGroupsAndSnapshotsStayDeletedAndTheirIdsAreNeverReused() {
        long last;
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            store.createVolume("a", 1 << 20);
            store.createVolume("b", 1 << 20);
            barrier.createGroup("g", List.of("a"));
            barrier.createGroup("gone", List.of("b"));
            long first = barrier.snapshotGroup("g", null, TIMEOUT).id();
            last = barrier.snapshotGroup("g", null, TIMEOUT).id();
            barrier.deleteSnapshot(first);
            barrier.deleteSnapshot(last);
            barrier.deleteGroup("gone");
        }
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            assertThat(barrier.groups()).extracting(Group::name).containsExactly("g");
            assertThat(barrier.snapshots(null)).isEmpty();
            assertThat(barrier.snapshotGroup("g", null, TIMEOUT).id()).isEqualTo(last + 1);
            assertThat(barrier.createGroup("gone", List.of("b")).volumes()).containsExactly("b");
        }
    }

    /** The id part of an export name {@code VOLUME@ID}: what a client sends, so anything may come. */
    @Test
    void snapshotIdsInExportNamesAreReadStrictly() {
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            Volume a = store.createVolume("a", 1 << 20);
            Volume b = store.createVolume("b", 1 << 20);
            barrier.createGroup("g", List.of("a"));
            long id = barrier.snapshotGroup("g", null, TIMEOUT).id();
            assertThat(barrier.epochOf(a, Long.toString(id))).hasValue(barrier.epochOf(a, id));
            assertThat(barrier.epochOf(b, Long.toString(id))).as("a volume not in the snapshot").isEmpty();
            for (String name : List.of("", "0", "0" + id, "+" + id, "-1", id + " ", "x", Long.toString(id + 1),
                    "1234567890123456789", "99999999999999999999")) {
                assertThat(barrier.epochOf(a, name)).as("'%s'", name).isEmpty();
            }
        }
    }

    @Test
    void groupsRefuseBadMembershipAndProtectTheirVolumes() {
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            Volume a = store.createVolume("a", 1 << 20);
            store.createVolume("b", 1 << 20);
            store.createVolume("c", 1 << 20);
            barrier.createGroup("g1", List.of("a", "b"));
            assertThatThrownBy(() -> barrier.createGroup("g1", List.of("c"))).isInstanceOf(ConflictException.class);
            assertThatThrownBy(() -> barrier.createGroup("g2", List.of("c", "b")))
                    .isInstanceOf(ConflictException.class).hasMessageContaining("already in group g1");
            assertThatThrownBy(() -> barrier.createGroup("g2", List.of()))
                    .isInstanceOf(InvalidBarrierRequestException.class);
            assertThatThrownBy(() -> barrier.createGroup("g2", List.of("c", "c")))
                    .isInstanceOf(InvalidBarrierRequestException.class).hasMessageContaining("twice");
            assertThatThrownBy(() -> barrier.createGroup("g2", List.of("nope")))
                    .isInstanceOf(VolumeNotFoundException.class);
            assertThatThrownBy(() -> barrier.createGroup("bad/name", List.of("c")))
                    .isInstanceOf(InvalidBarrierRequestException.class);
            assertThat(barrier.groups()).extracting(Group::name).containsExactly("g1");

            assertThatThrownBy(() -> barrier.deleteVolume(a, () -> {
            }))
                    .isInstanceOf(ConflictException.class).hasMessageContaining("in group g1");
            barrier.setGroup("g1", List.of("b", "c"));
            assertThat(barrier.group("g1").volumes()).containsExactly("b", "c");
            barrier.createGroup("g2", List.of("a"));

            Snapshot snapshot = barrier.snapshotGroup("g2", null, TIMEOUT);
            barrier.deleteGroup("g2");
            assertThatThrownBy(() -> barrier.deleteVolume(a, () -> {
            }))
                    .isInstanceOf(ConflictException.class).hasMessageContaining("snapshots [" + snapshot.id() + "]");
            barrier.deleteSnapshot(snapshot.id());
            assertThat(store.retainedEpochs(a)).isEmpty();
            assertThatThrownBy(() -> barrier.snapshot(snapshot.id())).isInstanceOf(NotFoundException.class);
            barrier.deleteVolume(a, () -> {
            });
            assertThat(store.volumes()).extracting(v -> v.name()).containsExactlyInAnyOrder("b", "c");
            assertThatThrownBy(() -> barrier.snapshotGroup("g2", null, TIMEOUT)).isInstanceOf(NotFoundException.class);
        }
    }

    @Test
    void concurrentBarriersOnOverlappingVolumesSerialise() throws Exception {
        try (BlockStore store = open(); GroupBarrier barrier = GroupBarrier.open(store)) {
            for (String name : List.of("a", "b", "c")) {
                store.createVolume(name, 1 << 20);
            }
            ExecutorService callers = Executors.newFixedThreadPool(3);
            List<Future<Snapshot>> taken = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                List<String> volumes = i % 3 == 0
                        ? List.of("a", "b")
                        : i % 3 == 1 ? List.of("b", "c") : List.of("c", "a");
                taken.add(callers.submit(() -> barrier.snapshotVolumes(volumes, null, TIMEOUT)));
            }
            Set<Long> ids = new HashSet<>();
            Set<String> epochs = new HashSet<>();
            for (Future<Snapshot> future : taken) {
                Snapshot snapshot = future.get(30, TimeUnit.SECONDS);
                ids.add(snapshot.id());
                snapshot.members().forEach(m -> epochs.add(m.volume() + "@" + m.epoch()));
            }
            callers.shutdown();
            assertThat(ids).hasSize(30);
            assertThat(epochs).as("no epoch is in two snapshots").hasSize(60);
            assertThat(barrier.snapshots(null)).hasSize(30);
        }
    }
}
