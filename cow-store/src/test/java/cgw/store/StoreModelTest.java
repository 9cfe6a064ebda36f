package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.constraints.Size;

/**
 * Model-based test of the store: random sequences of writes (unaligned too), write-zeroes, trims,
 * cuts, releases, clones, deletes, grows, collector runs and reopens, compared after every step
 * byte for byte with a plain in-memory model at the head and every retained epoch of every volume,
 * together with the allocation map and the changed-block sets. jqwik prints the seed and the
 * shrunk operation list of a failure; {@code @Property(seed = "...")} replays it.
 *
 * <p>Operations name volumes and epochs by index modulo what exists, so every generated list is
 * valid and shrinks well; an operation that finds nothing to act on does nothing.
 */
class StoreModelTest {
    private static final int BLOCK = 512;

    sealed interface Op permits Create, Write, Zero, Trim, Cut, Release, CloneOp, Delete, Grow, Gc, Reopen {
    }

    record Create(int blocks) implements Op {
    }

    record Write(int volume, int offsetPermille, int length, int pattern) implements Op {
    }

    record Zero(int volume, int offsetPermille, int length) implements Op {
    }

    record Trim(int volume, int offsetPermille, int length) implements Op {
    }

    record Cut(int volume) implements Op {
    }

    record Release(int volume, int epochIndex) implements Op {
    }

    record CloneOp(int volume, int epochIndex) implements Op {
    }

    record Delete(int volume) implements Op {
    }

    record Grow(int volume, int blocks) implements Op {
    }

    record Gc() implements Op {
    }

    record Reopen() implements Op {
    }

    @Provide
    Arbitrary<Op> op() {
        Arbitrary<Integer> volume = Arbitraries.integers().between(0, 7);
        Arbitrary<Integer> permille = Arbitraries.integers().between(0, 1000);
        Arbitrary<Integer> length = Arbitraries.oneOf(
                Arbitraries.of(1, 7, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK, 2 * BLOCK + 300),
                Arbitraries.integers().between(1, 6 * BLOCK));
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, Arbitraries.integers().between(1, 40).map(Create::new)),
                net.jqwik.api.Tuple.of(30, net.jqwik.api.Combinators.combine(volume, permille, length,
                        Arbitraries.integers().between(0, 99)).as(Write::new)),
                net.jqwik.api.Tuple.of(6, net.jqwik.api.Combinators.combine(volume, permille, length).as(Zero::new)),
                net.jqwik.api.Tuple.of(6, net.jqwik.api.Combinators.combine(volume, permille, length).as(Trim::new)),
                net.jqwik.api.Tuple.of(8, volume.map(Cut::new)),
                net.jqwik.api.Tuple.of(5,
                        net.jqwik.api.Combinators.combine(volume, Arbitraries.integers().between(0, 5))
                                .as(Release::new)),
                net.jqwik.api.Tuple.of(3,
                        net.jqwik.api.Combinators.combine(volume, Arbitraries.integers().between(0, 5))
                                .as(CloneOp::new)),
                net.jqwik.api.Tuple.of(2, volume.map(Delete::new)),
                net.jqwik.api.Tuple.of(2,
                        net.jqwik.api.Combinators.combine(volume, Arbitraries.integers().between(1, 8))
                                .as(Grow::new)),
                net.jqwik.api.Tuple.of(4, Arbitraries.just(new Gc())),
                net.jqwik.api.Tuple.of(2, Arbitraries.just(new Reopen())));
    }

    // tries: jqwik.tries.default in junit-platform.properties, lowered by the mutation profile
    @Property(shrinking = ShrinkingMode.BOUNDED, edgeCases = EdgeCasesMode.MIXIN)
    void storeBehavesLikeTheModel(@ForAll @Size(min = 1, max = 60) List<@net.jqwik.api.From("op") Op> ops) {
        // tiny value log segments: writes roll over segments and the cleaner relocates all the time
        run(ops, options().withValueLogSegmentBytes(8 * BLOCK));
    }

    private static StoreOptions options() {
        return StoreOptions.defaults().withBlockSizeBytes(BLOCK).withCacheBytes(32 << 20, 8 << 20)
                .withBackgroundGc(false);
    }

    private void run(List<Op> ops, StoreOptions options) {
        Path dir = tempDir();
        Model model = new Model();
        BlockStore store = BlockStore.open(dir, options);
        try {
            int step = 0;
            for (Op op : ops) {
                store = apply(store, dir, options, model, op);
                step++;
                check(store, model, "after step " + step + " " + op);
            }
        } finally {
            try {
                store.close();
            } finally {
                deleteTree(dir); // also when close fails (a mutant, a failed sync): runs leave no stores behind
            }
        }
    }

    private BlockStore apply(BlockStore store, Path dir, StoreOptions options, Model model, Op op) {
        if (op instanceof Create c) {
            String name = "v" + model.nextName++;
            store.createVolume(name, (long) c.blocks() * BLOCK);
            model.volumes.put(name, new ModelVolume(name, new byte[c.blocks() * BLOCK], null, 0));
        } else if (op instanceof Write w) {
            withVolume(model, w.volume(), v -> {
                long[] range = range(v, w.offsetPermille(), w.length());
                byte[] data = pattern(w.pattern(), (int) range[1]);
                // NBD hands the store direct buffers; other callers heap ones: both paths
                ByteBuffer src = w.pattern() % 2 == 0
                        ? ByteBuffer.allocateDirect(data.length).put(data).flip()
                        : ByteBuffer.wrap(data);
                store.write(store.volume(v.name), range[0], src);
                v.write(range[0], data);
            });
        } else if (op instanceof Zero z) {
            withVolume(model, z.volume(), v -> {
                long[] range = range(v, z.offsetPermille(), z.length());
                store.writeZeroes(store.volume(v.name), range[0], range[1]);
                v.zero(range[0], range[1], false);
            });
        } else if (op instanceof Trim t) {
            withVolume(model, t.volume(), v -> {
                long[] range = range(v, t.offsetPermille(), t.length());
                store.trim(store.volume(v.name), range[0], range[1]);
                v.zero(range[0], range[1], true);
            });
        } else if (op instanceof Cut c) {
            withVolume(model, c.volume(), v -> {
                long sealed = store.cut(store.volume(v.name));
                assertThat(sealed).isEqualTo(v.head);
                v.cut();
            });
        } else if (op instanceof Release r) {
            withVolume(model, r.volume(), v -> {
                if (v.retained.isEmpty()) {
                    return;
                }
                long epoch = nth(v.retained.keySet(), r.epochIndex());
                store.release(store.volume(v.name), epoch);
                v.retained.remove(epoch);
            });
        } else if (op instanceof CloneOp c) {
            withVolume(model, c.volume(), v -> {
                if (v.retained.isEmpty()) {
                    return;
                }
                long epoch = nth(v.retained.keySet(), c.epochIndex());
                String name = "v" + model.nextName++;
                store.clone(store.volume(v.name), epoch, name);
                Snapshot at = v.retained.get(epoch);
                ModelVolume clone = new ModelVolume(name, at.content.clone(), v, epoch);
                clone.state = at.state.clone();
                v.clones.add(clone);
                model.volumes.put(name, clone);
            });
        } else if (op instanceof Delete d) {
            withVolume(model, d.volume(), v -> {
                if (!v.clones.isEmpty()) {
                    assertThatThrownBy(() -> store.delete(store.volume(v.name)))
                            .isInstanceOf(VolumeInUseException.class);
                    return;
                }
                store.delete(store.volume(v.name));
                model.volumes.remove(v.name);
                if (v.parent != null) {
                    v.parent.clones.remove(v);
                }
            });
        } else if (op instanceof Grow g) {
            withVolume(model, g.volume(), v -> {
                store.grow(store.volume(v.name), v.content.length + (long) g.blocks() * BLOCK);
                v.grow(g.blocks() * BLOCK);
            });
        } else if (op instanceof Gc) {
            store.collectGarbage();
            checkNoGarbageLeft(store, model);
            assertThat(store.valueLogBytes()).as("value log after a collector run and a forced clean")
                    .isEqualTo(store.liveValueLogBytes());
        } else if (op instanceof Reopen) {
            store.close();
            return BlockStore.open(dir, options);
        }
        return store;
    }

    private static void check(BlockStore store, Model model, String when) {
        assertThat(store.volumes().stream().map(VolumeInfo::name).toList())
                .as("volumes %s", when)
                .containsExactlyElementsOf(model.volumes.keySet().stream().sorted().toList());
        for (ModelVolume v : model.volumes.values()) {
            Volume volume = store.volume(v.name);
            assertThat(volume.headEpoch()).as("head of %s %s", v.name, when).isEqualTo(v.head);
            assertThat(store.retainedEpochs(volume)).as("retained of %s %s", v.name, when)
                    .containsExactlyElementsOf(v.retained.keySet());
            checkEpoch(store, volume, v.head, v.content, v.state, v.name + " head " + when);
            for (Map.Entry<Long, Snapshot> e : v.retained.entrySet()) {
                checkEpoch(store, volume, e.getKey(), e.getValue().content, e.getValue().state,
                        v.name + "@" + e.getKey() + " " + when);
            }
            checkChangedBlocks(store, volume, v, when);
        }
    }

    /**
     * After a collector run nothing reclaimable is left below the newest kept epoch: between two
     * versions of a block there is always a kept epoch (retained, or pinned by a clone). Versions
     * above the newest kept epoch are the open span, compacted at the next cut.
     */
    private static void checkNoGarbageLeft(BlockStore store, Model model) {
        for (ModelVolume v : model.volumes.values()) {
            Volume volume = store.volume(v.name);
            java.util.TreeSet<Long> kept = new java.util.TreeSet<>(v.retained.keySet());
            v.clones.forEach(clone -> kept.add(clone.parentEpoch));
            if (kept.isEmpty()) {
                continue;
            }
            long newestKept = kept.last();
            for (long block = 0; block * BLOCK < v.content.length; block++) {
                List<Long> versions = store.versionsOf(volume, block);
                for (int i = 1; i < versions.size(); i++) {
                    long newer = versions.get(i - 1);
                    long older = versions.get(i);
                    if (newer > newestKept) {
                        continue;
                    }
                    Long between = kept.ceiling(older);
                    assertThat(between != null && between < newer)
                            .as("block %d of %s keeps versions %d and %d with no kept epoch between (kept %s)",
                                    block, v.name, older, newer, kept)
                            .isTrue();
                }
            }
        }
    }

    private static void checkEpoch(BlockStore store, Volume volume, long epoch, byte[] content, ExtentType[] state,
            String what) {
        // callers pass reused buffers (the NBD server's are pooled): every byte is the store's to write
        ByteBuffer heap = ByteBuffer.wrap(garbage(content.length));
        store.read(volume, epoch, 0, heap);
        assertThat(heap.array()).as("content of %s", what).isEqualTo(content);
        ByteBuffer direct = ByteBuffer.allocateDirect(content.length + 3).put(garbage(content.length + 3)).clear();
        direct.position(3);
        store.read(volume, epoch, 0, direct);
        byte[] fromDirect = new byte[content.length];
        direct.get(3, fromDirect);
        assertThat(fromDirect).as("content read into a direct buffer of %s", what).isEqualTo(content);
        if (content.length > 10) {
            ByteBuffer middle = ByteBuffer.wrap(garbage(content.length - 10));
            store.read(volume, epoch, 5, middle);
            assertThat(middle.array()).as("unaligned read of %s", what)
                    .isEqualTo(Arrays.copyOfRange(content, 5, content.length - 5));
        }
        assertThat(store.extents(volume, epoch, 0, content.length)).as("extents of %s", what)
                .isEqualTo(expectedExtents(state, 0, content.length));
        if (content.length > 700) {
            assertThat(store.extents(volume, epoch, 300, content.length - 700)).as("clipped extents of %s", what)
                    .isEqualTo(expectedExtents(state, 300, content.length - 400));
        }
    }

    /**
     * changedBlocks(a, b) must contain every block whose content differs between a and b, and
     * only blocks the model saw written in (a, b].
     */
    private static void checkChangedBlocks(BlockStore store, Volume volume, ModelVolume v, String when) {
        List<Long> epochs = new ArrayList<>();
        epochs.add(0L);
        epochs.addAll(v.retained.keySet());
        for (int i = 0; i < epochs.size(); i++) {
            for (int j = i + 1; j < epochs.size(); j++) {
                long from = epochs.get(i);
                long to = epochs.get(j);
                Set<Long> changed = new HashSet<>();
                for (long block : store.changedBlocks(volume, from, to).toArray()) {
                    changed.add(block);
                }
                byte[] before = from == 0 ? v.initial : v.retained.get(from).content;
                byte[] after = v.retained.get(to).content;
                Set<Long> written = new HashSet<>();
                v.written.subMap(from, false, to, true).values().forEach(written::addAll);
                for (long block = 0; block * BLOCK < after.length; block++) {
                    if (!sameBlock(before, after, block)) {
                        assertThat(changed).as("changed %s..%s of %s %s", from, to, v.name, when).contains(block);
                    }
                }
                assertThat(written).as("written %s..%s of %s %s", from, to, v.name, when).containsAll(changed);
                checkRangeLimited(store, volume, from, to, changed, after.length, when);
            }
            long from = epochs.get(i);
            if (from != 0) {
                Set<Long> sinceNow = new HashSet<>();
                for (long block : store.changedSince(volume, from).toArray()) {
                    sinceNow.add(block);
                }
                checkRangeLimited(store, volume, from, BlockStore.HEAD, sinceNow, v.content.length, when);
            }
        }
    }

    /** The range-limited changed blocks are the whole volume's, clipped to the range rounded out to blocks. */
    private static void checkRangeLimited(BlockStore store, Volume volume, long from, long to, Set<Long> whole,
            long sizeBytes, String when) {
        long offset = sizeBytes / 3 + 7;
        long length = Math.max(0, sizeBytes / 2 - 7);
        Set<Long> ranged = new HashSet<>();
        for (long block : store.changedBlocks(volume, from, to, offset, length).toArray()) {
            ranged.add(block);
        }
        Set<Long> expected = new HashSet<>();
        for (long block : whole) {
            if (length > 0 && block >= offset / BLOCK && block <= (offset + length - 1) / BLOCK) {
                expected.add(block);
            }
        }
        assertThat(ranged).as("changed %s..%s of [%s, +%s) %s", from, to, offset, length, when).isEqualTo(expected);
    }

    private static boolean sameBlock(byte[] a, byte[] b, long block) {
        for (int i = (int) block * BLOCK; i < (block + 1) * BLOCK; i++) {
            byte x = i < a.length ? a[i] : 0;
            byte y = i < b.length ? b[i] : 0;
            if (x != y) {
                return false;
            }
        }
        return true;
    }

    private static List<Extent> expectedExtents(ExtentType[] state, long offset, long end) {
        List<Extent> out = new ArrayList<>();
        for (int block = 0; block < state.length; block++) {
            long start = Math.max(offset, (long) block * BLOCK);
            long stop = Math.min(end, (long) (block + 1) * BLOCK);
            if (stop <= start) {
                continue;
            }
            Extent last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last != null && last.type() == state[block] && last.end() == start) {
                out.set(out.size() - 1, new Extent(last.offset(), stop - last.offset(), last.type()));
            } else {
                out.add(new Extent(start, stop - start, state[block]));
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- the model

    static final class Model {
        final Map<String, ModelVolume> volumes = new LinkedHashMap<>();
        int nextName;
    }

    record Snapshot(byte[] content, ExtentType[] state) {
    }

    static final class ModelVolume {
        final String name;
        final ModelVolume parent;
        final long parentEpoch;
        byte[] content;
        byte[] initial;
        ExtentType[] state;
        long head = 1;
        final TreeMap<Long, Snapshot> retained = new TreeMap<>();
        /** Blocks written per epoch, as the store writes them (a skipped zeroing writes nothing). */
        final TreeMap<Long, Set<Long>> written = new TreeMap<>();
        final List<ModelVolume> clones = new ArrayList<>();

        ModelVolume(String name, byte[] content, ModelVolume parent, long parentEpoch) {
            this.name = name;
            this.content = content;
            this.initial = content.clone();
            this.parent = parent;
            this.parentEpoch = parentEpoch;
            this.state = new ExtentType[content.length / BLOCK];
            Arrays.fill(state, ExtentType.HOLE);
        }

        void write(long offset, byte[] data) {
            System.arraycopy(data, 0, content, (int) offset, data.length);
            forBlocks(offset, data.length, (block, full) -> settle(block));
        }

        /** Write-zeroes ({@code trim} false) and trim: blocks reading as holes are left alone. */
        void zero(long offset, long length, boolean trim) {
            forBlocks(offset, length, (block, full) -> {
                ExtentType was = state[(int) block];
                if (was == ExtentType.HOLE || was == ExtentType.ZERO && !trim) {
                    return;
                }
                long from = Math.max(offset, block * BLOCK);
                long to = Math.min(offset + length, (block + 1) * BLOCK);
                Arrays.fill(content, (int) from, (int) to, (byte) 0);
                if (full) {
                    state[(int) block] = trim ? ExtentType.HOLE : ExtentType.ZERO;
                    written.computeIfAbsent(head, e -> new HashSet<>()).add(block);
                } else {
                    settle(block);
                }
            });
        }

        private void settle(long block) {
            boolean zeros = true;
            for (int i = (int) block * BLOCK; i < (block + 1) * BLOCK; i++) {
                zeros &= content[i] == 0;
            }
            state[(int) block] = zeros ? ExtentType.ZERO : ExtentType.DATA;
            written.computeIfAbsent(head, e -> new HashSet<>()).add(block);
        }

        void cut() {
            retained.put(head, new Snapshot(content.clone(), state.clone()));
            head++;
        }

        void grow(int bytes) {
            content = Arrays.copyOf(content, content.length + bytes);
            int old = state.length;
            state = Arrays.copyOf(state, content.length / BLOCK);
            Arrays.fill(state, old, state.length, ExtentType.HOLE);
        }

        private interface BlockAction {
            void apply(long block, boolean full);
        }

        private static void forBlocks(long offset, long length, BlockAction action) {
            for (long block = offset / BLOCK; block * BLOCK < offset + length; block++) {
                boolean full = offset <= block * BLOCK && (block + 1) * BLOCK <= offset + length;
                action.apply(block, full);
            }
        }
    }

    private static byte[] garbage(int length) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) 0xA5);
        return bytes;
    }

    // ---------------------------------------------------------------- helpers

    private interface VolumeAction {
        void apply(ModelVolume v);
    }

    private static void withVolume(Model model, int index, VolumeAction action) {
        if (model.volumes.isEmpty()) {
            return;
        }
        List<String> names = model.volumes.keySet().stream().sorted(Comparator.naturalOrder()).toList();
        action.apply(model.volumes.get(names.get(index % names.size())));
    }

    private static long nth(Set<Long> epochs, int index) {
        return epochs.stream().skip(index % epochs.size()).findFirst().orElseThrow();
    }

    /** An in-range {@code (offset, length)} from a position in permille and a wished length. */
    private static long[] range(ModelVolume v, int permille, int length) {
        long size = v.content.length;
        long offset = Math.min(size - 1, size * permille / 1000);
        return new long[]{offset, Math.min(length, size - offset)};
    }

    private static byte[] pattern(int kind, int length) {
        byte[] data = new byte[length];
        if (kind < 10) {
            return data; // all zeros: exercises zero detection
        }
        if (kind < 20) {
            Arrays.fill(data, (byte) kind);
            return data;
        }
        new Random(kind * 7919L + length).nextBytes(data);
        return data;
    }

    private static Path tempDir() {
        try {
            return Files.createTempDirectory("cgw-model");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
