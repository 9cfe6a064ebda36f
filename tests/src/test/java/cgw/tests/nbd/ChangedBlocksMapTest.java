package cgw.tests.nbd;

import static cgw.tests.ExternalTool.nbdsh;
import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.Volume;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code cgw:changed-since:ID} meta context, model-checked with libnbd's tools: random writes,
 * zeroes and trims (unaligned too) between two snapshots, then {@code nbdinfo --map} of the head
 * and of the later snapshot must list exactly the blocks the operations touched, before and after a
 * restart, alone and negotiated together with {@code base:allocation}. Here a snapshot's name is
 * its epoch ({@code SnapshotNames.retainedEpochs}); the gateway's catalog IDs are tested in
 * {@link ChangedBlocksGatewayTest}.
 */
class ChangedBlocksMapTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long SIZE = 8L << 20;
    private static final int OPERATIONS = 40;

    @TempDir
    Path dir;
    private NbdFixture nbd;
    private int block;

    @BeforeEach
    void start() {
        require("nbdinfo", "libnbd-bin");
        require("qemu-io", "qemu-utils");
        require("nbdsh", "python3-libnbd");
        nbd = new NbdFixture(dir);
        block = nbd.store.blockSizeBytes();
    }

    @AfterEach
    void stop() throws Exception {
        nbd.close();
    }

    /** An NBD operation and the blocks it touches. */
    private record Op(String kind, long offset, long length, int pattern) {
        String python() {
            return switch (kind) {
                case "write" -> "h.pwrite(bytes([" + pattern + "]) * " + length + ", " + offset + ")";
                case "zero" -> "h.zero(" + length + ", " + offset + ")";
                default -> "h.trim(" + length + ", " + offset + ")";
            };
        }

        void touch(TreeSet<Long> blocks, int block) {
            for (long b = offset / block; b <= (offset + length - 1) / block; b++) {
                blocks.add(b);
            }
        }

        /**
         * Applies the operation to {@code content}; adds to {@code must} the blocks the map must
         * show changed (written with data, or zeroed where they held data: the store may skip
         * zeroing what reads as zeros already) and to {@code may} every block touched.
         */
        void apply(byte[] content, Changes changes, int block) {
            touch(changes.may, block);
            for (long b = offset / block; b <= (offset + length - 1) / block; b++) {
                int from = (int) Math.max(offset, b * block);
                int to = (int) Math.min(offset + length, (b + 1) * block);
                boolean changesContent = kind.equals("write");
                for (int i = from; i < to && !changesContent; i++) {
                    changesContent = content[i] != 0;
                }
                if (changesContent) {
                    changes.must.add(b);
                }
            }
            java.util.Arrays.fill(content, (int) offset, (int) (offset + length),
                    kind.equals("write") ? (byte) pattern : 0);
        }
    }

    /** What a map of changed blocks must show, and what it may. */
    private record Changes(TreeSet<Long> must, TreeSet<Long> may) {
        Changes() {
            this(new TreeSet<>(), new TreeSet<>());
        }

        Changes plus(Changes later) {
            Changes sum = new Changes();
            sum.must.addAll(must);
            sum.must.addAll(later.must);
            sum.may.addAll(may);
            sum.may.addAll(later.may);
            return sum;
        }

        void check(TreeSet<Long> map, String what) {
            assertThat(map).as("%s shows every block changed", what).containsAll(must);
            assertThat(may).as("%s shows only blocks touched", what).containsAll(map);
        }
    }

    private List<Op> randomOps(Random random) {
        List<Op> ops = new ArrayList<>();
        for (int i = 0; i < OPERATIONS; i++) {
            int roll = random.nextInt(10);
            String kind = roll < 6 ? "write" : roll < 8 ? "zero" : "trim";
            boolean aligned = random.nextBoolean();
            long length = aligned ? (1 + random.nextInt(32)) * (long) block : 1 + random.nextInt(64 * block);
            long offset = random.nextLong(SIZE - length + 1);
            if (aligned) {
                offset -= offset % block;
            }
            ops.add(new Op(kind, offset, length, 1 + random.nextInt(250)));
        }
        return ops;
    }

    private void apply(List<Op> ops) {
        StringBuilder code = new StringBuilder("h.connect_uri('" + nbd.uri("disk") + "')\n");
        for (Op op : ops) {
            code.append(op.python()).append('\n');
        }
        code.append("h.flush()\nh.shutdown()\n");
        nbdsh("-c", code.toString()).assertSuccess();
    }

    @Test
    void mapListsExactlyTheBlocksWrittenSinceTheSnapshot() throws Exception {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        Volume volume = nbd.createVolume("disk", SIZE);
        // every block holds data first, so that every later zero or trim changes what it touches
        run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 8M", nbd.uri("disk")).assertSuccess();
        long first = nbd.store.cut(volume);
        byte[] content = new byte[(int) SIZE];
        java.util.Arrays.fill(content, (byte) 0x5a);
        Changes firstToSecond = new Changes();
        List<Op> before = randomOps(random);
        before.forEach(op -> op.apply(content, firstToSecond, block));
        apply(before);
        long second = nbd.store.cut(volume);
        Changes secondToHead = new Changes();
        List<Op> after = randomOps(random);
        after.forEach(op -> op.apply(content, secondToHead, block));
        apply(after);
        Changes firstToHead = firstToSecond.plus(secondToHead);

        String why = ", seed " + seed;
        for (int round = 0; round < 2; round++) {
            firstToSecond.check(nbdinfoMap("disk@" + second, first), first + ".." + second + why);
            firstToHead.check(nbdinfoMap("disk", first), first + "..head" + why);
            secondToHead.check(nbdinfoMap("disk", second), second + "..head" + why);
            assertThat(nbdinfoMap("disk@" + second, second)).as("a snapshot since itself").isEmpty();
            // the changed-block sets live in the store: a restart keeps them
            nbd.close();
            nbd = new NbdFixture(dir);
        }
        run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x5a 0 4k", nbd.uri("disk@" + first)).assertSuccess();
    }

    @Test
    void bothContextsAtOnceAnswerAsEachAlone() throws Exception {
        Volume volume = nbd.createVolume("disk", SIZE);
        run("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 2M", "-c", "write -P 0x22 4M 1M", nbd.uri("disk"))
                .assertSuccess();
        long snapshot = nbd.store.cut(volume);
        run("qemu-io", "-f", "raw", "-c", "write -P 0x33 1M 8k", "-c", "write -z 4M 64k", "-c", "discard 4352k 4k",
                "-c", "write -P 0x44 7000000 3000", nbd.uri("disk")).assertSuccess();

        JsonNode both = JSON.readTree(run("/usr/bin/python3", script().toString(), "map", nbd.uri("disk"),
                String.valueOf(snapshot)).assertSuccess().stdout());
        assertThat(runs(both.get("base:allocation")))
                .isEqualTo(nbdinfoRuns(run("nbdinfo", "--map", nbd.uri("disk")).assertSuccess().stdout()));
        assertThat(runs(both.get("cgw:changed-since:" + snapshot))).isEqualTo(nbdinfoRuns(
                run("nbdinfo", "--map=cgw:changed-since:" + snapshot, nbd.uri("disk")).assertSuccess().stdout()));
        TreeSet<Long> changed = new TreeSet<>();
        new Op("write", 1 << 20, 8 << 10, 0x33).touch(changed, block);
        new Op("zero", 4 << 20, 64 << 10, 0).touch(changed, block);
        new Op("trim", 4352 << 10, 4 << 10, 0).touch(changed, block);
        new Op("write", 7_000_000, 3000, 0x44).touch(changed, block);
        assertThat(changedBlocks(runs(both.get("cgw:changed-since:" + snapshot)))).isEqualTo(changed);
    }

    private Path script() throws IOException {
        return script(dir);
    }

    /** {@code changed_blocks.py}, copied into {@code dir} for Debian's python3 to run. */
    static Path script(Path dir) throws IOException {
        Path script = dir.resolve("changed_blocks.py");
        if (!Files.exists(script)) {
            try (InputStream in = ChangedBlocksMapTest.class.getResourceAsStream("changed_blocks.py")) {
                Files.copy(in, script);
            }
        }
        return script;
    }

    /** The blocks nbdinfo's map of the context marks changed (bit 0), checking the runs tile the export. */
    private TreeSet<Long> nbdinfoMap(String export, long since) {
        List<List<Long>> runs = nbdinfoRuns(
                run("nbdinfo", "--map=cgw:changed-since:" + since, nbd.uri(export)).assertSuccess().stdout());
        long expected = 0;
        for (List<Long> run : runs) {
            assertThat(run.get(0)).as("runs of %s tile the export", export).isEqualTo(expected);
            expected = run.get(0) + run.get(1);
            if ((run.get(2) & 1) != 0) {
                assertThat(run.get(0) % block).as("a changed run starts on a block").isZero();
            }
        }
        assertThat(expected).isEqualTo(SIZE);
        return changedBlocks(runs);
    }

    /** The blocks that runs (offset, length, flags) mark changed (bit 0). */
    private TreeSet<Long> changedBlocks(List<List<Long>> runs) {
        TreeSet<Long> blocks = new TreeSet<>();
        for (List<Long> run : runs) {
            if ((run.get(2) & 1) != 0) {
                for (long b = run.get(0) / block; b <= (run.get(0) + run.get(1) - 1) / block; b++) {
                    blocks.add(b);
                }
            }
        }
        return blocks;
    }

    /** Runs as (offset, length, flags). */
    private static List<List<Long>> runs(JsonNode runs) {
        List<List<Long>> out = new ArrayList<>();
        for (JsonNode run : runs) {
            out.add(List.of(run.get("start").asLong(), run.get("length").asLong(), run.get("flags").asLong()));
        }
        return out;
    }

    /** nbdinfo --map's lines as (offset, length, flags), without its descriptions. */
    static List<List<Long>> nbdinfoRuns(String map) {
        List<List<Long>> out = new ArrayList<>();
        for (String line : map.strip().split("\n")) {
            String[] fields = line.trim().split("\\s+");
            out.add(List.of(Long.parseLong(fields[0]), Long.parseLong(fields[1]), Long.parseLong(fields[2])));
        }
        return out;
    }
}
