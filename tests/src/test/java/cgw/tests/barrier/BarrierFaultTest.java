package cgw.tests.barrier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.api.RestApi;
import cgw.api.RestServer;
import cgw.api.Transport;
import cgw.barrier.GroupBarrier;
import cgw.nbd.NbdServer;
import cgw.nbd.NbdServerConfig;
import cgw.nbd.export.IoGate;
import cgw.nbd.export.StoreExports;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import cgw.tests.ExternalTool;
import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The barrier under faults: a volume whose writes stall, and a gateway killed mid-snapshot. */
@Timeout(600)
class BarrierFaultTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "f".repeat(64);

    @TempDir
    Path dir;

    /**
     * A write stuck between the gate and the store (a disk that stopped answering): the snapshot
     * fails with 504 and publishes nothing, other I/O is never held while it waits, and the stuck
     * write lands once the disk wakes up.
     */
    @Test
    void aVolumeWhoseWritesStallMakesTheSnapshotTimeOutWithNothingPublished() throws Exception {
        ExternalTool.require("qemu-io", "qemu-utils");
        BlockStore store = BlockStore.open(dir.resolve("store"),
                StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false));
        GroupBarrier barrier = GroupBarrier.open(store);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CompletableFuture<Void> disk = new CompletableFuture<>();
        AtomicBoolean stalling = new AtomicBoolean();
        StoreExports exports = new StoreExports(store, pool,
                barrier::epochOf,
                volume -> stallingGate(barrier, volume, stalling, disk));
        NbdServer nbd = NbdServer.start(NbdServerConfig.defaults(new InetSocketAddress("127.0.0.1", 0)), exports,
                Transport.best());
        RestServer rest = RestServer.start(new InetSocketAddress("127.0.0.1", 0),
                RestApi.routes(store, barrier, exports::openConnections), TOKEN);
        try {
            String nbdUri = "nbd://127.0.0.1:" + nbd.tcpAddress().getPort() + "/";
            int restPort = rest.address().getPort();
            store.createVolume("fast", 16 << 20);
            store.createVolume("slow", 16 << 20);
            barrier.createGroup("g", List.of("fast", "slow"));

            stalling.set(true);
            Process stuck = new ProcessBuilder("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 64k", nbdUri + "slow")
                    .redirectErrorStream(true).start();
            await("qemu-io's write reaches the stalled disk").atMost(Duration.ofSeconds(30))
                    .untilTrue(stalledWriteSeen);

            CompletableFuture<HttpResponse<String>> snapshot = CompletableFuture.supplyAsync(
                    () -> post(restPort, "/v1/groups/g/snapshots", "{\"timeoutMs\":4000}"));
            Volume fast = store.volume("fast");
            await("the barrier switches the gates").atMost(Duration.ofSeconds(30))
                    .until(() -> barrier.gate(fast).epoch() > 1 || snapshot.isDone());
            // the barrier switched the gates and waits for the stuck write: I/O on the group goes on
            ExternalTool.run("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 4k", "-c", "read -P 0x11 0 4k",
                    nbdUri + "fast").assertSuccess();
            assertThat(snapshot).as("I/O was answered while the barrier still waited").isNotDone();

            HttpResponse<String> failed = snapshot.get(30, TimeUnit.SECONDS);
            assertThat(failed.statusCode()).as(failed.body()).isEqualTo(504);
            JsonNode error = JSON.readTree(failed.body());
            assertThat(error.get("error").asText()).isEqualTo("timeout");
            assertThat(error.get("detail").asText()).contains("slow").contains("nothing was published");
            assertThat(JSON.readTree(get(restPort, "/v1/snapshots").body()).get("snapshots")).isEmpty();
            assertThat(store.retainedEpochs(fast)).isEmpty();
            assertThat(store.retainedEpochs(store.volume("slow"))).isEmpty();

            disk.complete(null);
            assertThat(stuck.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(stuck.exitValue()).as(new String(stuck.getInputStream().readAllBytes())).isZero();
            stalling.set(false);
            HttpResponse<String> next = post(restPort, "/v1/groups/g/snapshots", "{}");
            assertThat(next.statusCode()).as(next.body()).isEqualTo(201);
            long id = JSON.readTree(next.body()).get("id").asLong();
            ExternalTool.run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x5a 0 64k", nbdUri + "slow@" + id)
                    .assertSuccess();
            ExternalTool.run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x11 0 4k", nbdUri + "fast@" + id)
                    .assertSuccess();
        } finally {
            disk.complete(null);
            rest.close();
            nbd.close();
            pool.shutdown();
            pool.awaitTermination(30, TimeUnit.SECONDS);
            barrier.close();
            store.close();
        }
    }

    private final AtomicBoolean stalledWriteSeen = new AtomicBoolean();

    /** The barrier's gate of a volume; while {@code stalling}, writes to "slow" wait for {@code disk} before the store. */
    private IoGate stallingGate(GroupBarrier barrier, Volume volume, AtomicBoolean stalling,
            CompletableFuture<Void> disk) {
        IoGate gate = barrier.gate(volume)::submit;
        if (!volume.name().equals("slow")) {
            return gate;
        }
        return new IoGate() {
            @Override
            public <T> CompletableFuture<T> submit(boolean mutation, LongFunction<CompletableFuture<T>> op) {
                if (!mutation || !stalling.get()) {
                    return gate.submit(mutation, op);
                }
                return gate.submit(true, epoch -> {
                    stalledWriteSeen.set(true);
                    return disk.thenCompose(ignored -> op.apply(epoch));
                });
            }
        };
    }

    /** Kills in one run of the kill test: each stalls the next step of {@link BarrierStall.Step} in turn. */
    private static final int KILLS = 4;
    private static final Pattern ROLLED_BACK = Pattern
            .compile("rolled back barrier (\\d+) that was running when the gateway stopped");

    /**
     * SIGKILL mid-barrier, several times on one data directory. In each cycle a debugger stalls the
     * k-th barrier (k from the seed) at one of the steps between the cut and the commit; guest
     * writes and flushes go on meanwhile (past a stall that holds their replies once the lease
     * releases them), and the gateway is killed there. After each restart the stalled barrier was
     * rolled back (neither listed nor exported), every snapshot answered 201 is listed and whole,
     * and every write flushed before the kill is there.
     *
     * <p>Replay: the seed is printed; {@code -Dcgw.barrier.seed=S} stalls the same barriers.
     */
    @Test
    void aGatewayKilledMidBarrierRollsItBackAndKeepsWholeSnapshotsAndEveryFlushedWrite() throws Exception {
        ExternalTool.require("/usr/bin/python3", "python3");
        ExternalTool.require("nbdsh", "python3-libnbd");
        ExternalTool.require("nbdinfo", "libnbd-bin");
        long seed = Long.getLong("cgw.barrier.seed", new SecureRandom().nextLong());
        System.out.println("barrier kill test: seed " + seed + " (replay with -Dcgw.barrier.seed=" + seed + ")");
        Random random = new Random(seed);
        Path data = dir.resolve("data");
        List<Long> acknowledged = new CopyOnWriteArrayList<>();
        long flushed = -1;
        String killed = null;
        for (int cycle = 0; cycle < KILLS; cycle++) {
            BarrierStall.Step step = BarrierStall.Step.values()[cycle % BarrierStall.Step.values().length];
            int stalled = 2 + random.nextInt(5);
            String where = "cycle " + cycle + " of seed " + seed + " (replay with -Dcgw.barrier.seed=" + seed
                    + "), barrier " + stalled + " stalled at " + step;
            try (BarrierStall stall = BarrierStall.listen();
                    GatewayProcess gateway = GatewayProcess.start(data, dir.resolve("gateway-" + cycle + ".err"),
                            List.of(stall.jvmOption()), Map.of())) {
                stall.attach();
                if (cycle == 0) {
                    gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"ka\",\"size\":\"64MiB\"}");
                    gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"kb\",\"size\":\"64MiB\"}");
                    gateway.call(201, "POST", "/v1/groups", "{\"name\":\"kg\",\"volumes\":[\"ka\",\"kb\"]}");
                } else {
                    checkAfterRestart(gateway, acknowledged, flushed, killed);
                }
                stall.stopAt(step, stalled);

                Process writer = startWriter(gateway.nbdPort, flushed + 1);
                AtomicLong lastFlushed = new AtomicLong(flushed);
                Thread reader = readFlushed(writer, lastFlushed);
                awaitFlushesAfter(lastFlushed.get(), lastFlushed, writer, where + ": the writer got going");
                int acknowledgedBefore = acknowledged.size();
                CompletableFuture<Void> scheduler = takeSnapshotsUntilOneHangs(gateway, acknowledged);
                await(where + ": a barrier stalls").atMost(Duration.ofMinutes(2))
                        .until(() -> stall.stopped().isDone() || scheduler.isDone());
                if (scheduler.isDone()) {
                    scheduler.join(); // it ended before the stall: throws what ended it
                }
                assertThat(acknowledged.size() - acknowledgedBefore).as(where + ": barriers answered 201 before it")
                        .isEqualTo(stalled - 1);
                awaitFlushesAfter(lastFlushed.get(), lastFlushed, writer,
                        where + ": guest writes and flushes go on while the barrier is stalled");

                gateway.kill();
                writer.destroyForcibly();
                writer.waitFor();
                reader.join(30_000);
                flushed = lastFlushed.get();
                assertThat(scheduler).as(where + ": the stalled snapshot request dies with the gateway")
                        .failsWithin(Duration.ofSeconds(30)).withThrowableOfType(ExecutionException.class)
                        .withCauseInstanceOf(UncheckedIOException.class);
                killed = where;
            }
        }
        try (GatewayProcess gateway = GatewayProcess.start(data, dir.resolve("last.err"))) {
            checkAfterRestart(gateway, acknowledged, flushed, killed);
            assertThat(gateway.stop()).isZero();
        }
        System.out.println("barrier kill test: " + KILLS + " barriers killed mid-way and rolled back, "
                + acknowledged.size()
                + " snapshots acknowledged, " + (flushed + 1) + " flushed records of the writer's " + WRITER_RECORDS);
    }

    /** Waits until the writer reports a flush after record {@code after}; fails early if it ended. */
    private static void awaitFlushesAfter(long after, AtomicLong lastFlushed, Process writer, String what) {
        await(what).atMost(Duration.ofSeconds(60)).until(() -> lastFlushed.get() > after || !writer.isAlive());
        assertThat(lastFlushed.get()).as(what + " (the writer " + (writer.isAlive() ? "runs" : "ended") + ")")
                .isGreaterThan(after);
    }

    /**
     * Takes group snapshots one after another, each of which must be answered 201 and is recorded in
     * {@code acknowledged}, until a request fails: with an {@link UncheckedIOException} once the
     * gateway is killed while a request waits, with the failure itself otherwise.
     */
    private static CompletableFuture<Void> takeSnapshotsUntilOneHangs(GatewayProcess gateway, List<Long> acknowledged) {
        return CompletableFuture.runAsync(() -> {
            while (true) {
                HttpResponse<String> response;
                try {
                    response = gateway.rest("POST", "/v1/groups/kg/snapshots", "{\"timeoutMs\":5000}");
                    assertThat(response.statusCode()).as(response.body()).isEqualTo(201);
                    acknowledged.add(JSON.readTree(response.body()).get("id").asLong());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted between snapshots", e);
                }
            }
        }, task -> {
            Thread thread = new Thread(task, "snapshot-scheduler");
            thread.setDaemon(true);
            thread.start();
        });
    }

    /**
     * After a restart from a kill mid-barrier ({@code killed} says where): the barrier that was
     * running was rolled back, exactly one, and is neither listed nor exported; every snapshot
     * answered 201 is listed with both volumes and the newest open; every flushed record is there.
     */
    private void checkAfterRestart(GatewayProcess gateway, List<Long> acknowledged, long flushed, String killed)
            throws Exception {
        JsonNode snapshots = gateway.call(200, "GET", "/v1/snapshots", null).get("snapshots");
        List<Long> listed = new ArrayList<>();
        snapshots.forEach(s -> listed.add(s.get("id").asLong()));
        assertThat(listed).as(killed + ": every snapshot answered 201 survives").containsAll(acknowledged);
        List<Long> rolledBack = ROLLED_BACK.matcher(gateway.stderr()).results().map(m -> Long.parseLong(m.group(1)))
                .toList();
        assertThat(rolledBack).as(killed + ": the stalled barrier was rolled back at the restart, and nothing else")
                .hasSize(1);
        long stalledId = rolledBack.get(0);
        assertThat(stalledId).as(killed + ": the rolled-back barrier came after every answered one")
                .isGreaterThan(acknowledged.stream().mapToLong(Long::longValue).max().orElse(0));
        assertThat(listed).as(killed + ": the rolled-back barrier is not listed").doesNotContain(stalledId);
        assertThat(ExternalTool.run("nbdinfo", "--size", gateway.nbdUri("ka@" + stalledId)).exitCode())
                .as(killed + ": the rolled-back barrier is not exported").isNotZero();
        for (JsonNode snapshot : snapshots) {
            List<String> volumes = new ArrayList<>();
            snapshot.get("volumes").forEach(v -> volumes.add(v.asText()));
            assertThat(volumes).as("snapshot " + snapshot).containsExactlyInAnyOrder("ka", "kb");
        }
        // a sample of snapshots (the newest ones, where a kill may have struck) opens on every volume
        for (int i = Math.max(0, listed.size() - 3); i < listed.size(); i++) {
            for (String volume : List.of("ka", "kb")) {
                ExternalTool.run("nbdinfo", "--size", gateway.nbdUri(volume + "@" + listed.get(i))).assertSuccess();
            }
        }
        if (flushed >= 0) {
            ExternalTool.nbdsh("-c", CHECK.replace("PORT", Integer.toString(gateway.nbdPort))
                    .replace("LAST", Long.toString(flushed))).assertSuccess();
        }
    }

    /** Records the writer writes at most: 4 KiB each, half on each 64 MiB volume. */
    private static final int WRITER_RECORDS = 32768;

    /** Writes 4 KiB records n = FIRST, FIRST+1, ... alternately to ka and kb; after each flush of both prints n. */
    private static final String WRITER = """
            import nbd, struct, sys
            a = nbd.NBD(); a.connect_uri("nbd://127.0.0.1:PORT/ka")
            b = nbd.NBD(); b.connect_uri("nbd://127.0.0.1:PORT/kb")
            n = FIRST
            while n < RECORDS:
                h = a if n % 2 == 0 else b
                h.pwrite(struct.pack("<Q", n) * 512, (n // 2) * 4096)
                if n % 8 == 7:
                    a.flush(); b.flush()
                    print(n, flush=True)
                n += 1
            """;

    /** Checks that records 0..LAST are all in the heads of ka and kb. */
    private static final String CHECK = """
            import nbd, struct
            a = nbd.NBD(); a.connect_uri("nbd://127.0.0.1:PORT/ka")
            b = nbd.NBD(); b.connect_uri("nbd://127.0.0.1:PORT/kb")
            for n in range(0, LAST + 1):
                h = a if n % 2 == 0 else b
                got = h.pread(4096, (n // 2) * 4096)
                assert got == struct.pack("<Q", n) * 512, "flushed record %d is missing or torn: %r" % (n, got[:16])
            """;

    private static Process startWriter(int port, long first) throws Exception {
        return new ProcessBuilder("/usr/bin/python3", "-c",
                WRITER.replace("PORT", Integer.toString(port)).replace("FIRST", Long.toString(first))
                        .replace("RECORDS", Integer.toString(WRITER_RECORDS)))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static Thread readFlushed(Process writer, AtomicLong lastFlushed) {
        Thread reader = new Thread(() -> {
            try (BufferedReader lines = new BufferedReader(
                    new InputStreamReader(writer.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                    lastFlushed.set(Long.parseLong(line.strip()));
                }
            } catch (java.io.IOException e) {
                // the writer was killed mid-line: what it printed before counts
            }
        });
        reader.start();
        return reader;
    }

    private static HttpResponse<String> post(int port, String path, String body) {
        try {
            return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .header("Authorization", "Bearer " + TOKEN).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("Authorization", "Bearer " + TOKEN).build(), HttpResponse.BodyHandlers.ofString());
    }
}
