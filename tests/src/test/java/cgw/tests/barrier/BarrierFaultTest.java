package cgw.tests.barrier;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.api.RestApi;
import cgw.api.RestServer;
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
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;
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
        NbdServer nbd = NbdServer.start(NbdServerConfig.defaults(new InetSocketAddress("127.0.0.1", 0)), exports);
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
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!stalledWriteSeen.get() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(stalledWriteSeen.get()).as("qemu-io's write reached the stalled disk").isTrue();

            CompletableFuture<HttpResponse<String>> snapshot = CompletableFuture.supplyAsync(
                    () -> post(restPort, "/v1/groups/g/snapshots", "{\"timeoutMs\":4000}"));
            Volume fast = store.volume("fast");
            while (barrier.gate(fast).epoch() == 1 && !snapshot.isDone()) {
                Thread.sleep(1);
            }
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
            ExternalTool.run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x5a 0 64k", nbdUri + "slow@" + id).assertSuccess();
            ExternalTool.run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x11 0 4k", nbdUri + "fast@" + id).assertSuccess();
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
    private IoGate stallingGate(GroupBarrier barrier, Volume volume, AtomicBoolean stalling, CompletableFuture<Void> disk) {
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

    /**
     * SIGKILL while snapshots are being taken, several times on one data directory: after each
     * restart every listed snapshot is whole (each volume's export opens and holds its data), no
     * snapshot that was answered 201 is missing, and every write flushed before the kill is there.
     */
    @Test
    void aGatewayKilledMidSnapshotRestartsWithWholeSnapshotsAndEveryFlushedWrite() throws Exception {
        ExternalTool.require("/usr/bin/python3", "python3");
        ExternalTool.require("nbdsh", "python3-libnbd");
        ExternalTool.require("nbdinfo", "libnbd-bin");
        Path data = dir.resolve("data");
        Random random = new Random();
        long seed = random.nextLong();
        random.setSeed(seed);
        System.out.println("kill test seed " + seed);
        List<Long> acknowledged = new ArrayList<>();
        long flushed = -1;
        for (int cycle = 0; cycle < 4; cycle++) {
            try (GatewayProcess gateway = GatewayProcess.start(data, dir.resolve("gateway-" + cycle + ".err"))) {
                if (cycle == 0) {
                    gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"ka\",\"size\":\"64MiB\"}");
                    gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"kb\",\"size\":\"64MiB\"}");
                    gateway.call(201, "POST", "/v1/groups", "{\"name\":\"kg\",\"volumes\":[\"ka\",\"kb\"]}");
                } else {
                    checkAfterRestart(gateway, acknowledged, flushed);
                }
                Process writer = startWriter(gateway.nbdPort, flushed + 1);
                AtomicLong lastFlushed = new AtomicLong(flushed);
                Thread reader = readFlushed(writer, lastFlushed);
                AtomicBoolean stop = new AtomicBoolean();
                AtomicInteger taken = new AtomicInteger();
                Thread scheduler = new Thread(() -> {
                    while (!stop.get()) {
                        try {
                            HttpResponse<String> response = gateway.rest("POST", "/v1/groups/kg/snapshots", "{}");
                            if (response.statusCode() == 201) {
                                synchronized (acknowledged) {
                                    acknowledged.add(JSON.readTree(response.body()).get("id").asLong());
                                }
                                taken.incrementAndGet();
                            }
                            Thread.sleep(5);
                        } catch (Exception e) {
                            return; // the gateway is gone
                        }
                    }
                });
                scheduler.start();
                Thread.sleep(700 + random.nextInt(1500));
                gateway.kill();
                stop.set(true);
                scheduler.join(30_000);
                writer.destroyForcibly();
                writer.waitFor();
                reader.join(30_000);
                flushed = lastFlushed.get();
                assertThat(taken.get()).as("snapshots taken in cycle " + cycle).isPositive();
            }
        }
        try (GatewayProcess gateway = GatewayProcess.start(data, dir.resolve("last.err"))) {
            checkAfterRestart(gateway, acknowledged, flushed);
            assertThat(gateway.stop()).isZero();
        }
        long rolledBack = 0;
        for (int cycle = 1; cycle <= 4; cycle++) {
            Path log = dir.resolve(cycle < 4 ? "gateway-" + cycle + ".err" : "last.err");
            rolledBack += java.nio.file.Files.readAllLines(log).stream().filter(l -> l.contains("rolled back barrier")).count();
        }
        // how many kills struck between a cut and its commit (each rolled back at the next start)
        System.out.println("kill test: " + acknowledged.size() + " snapshots acknowledged, " + (flushed + 1)
                + " flushed writes, " + rolledBack + " unfinished barriers rolled back at restart");
    }

    private void checkAfterRestart(GatewayProcess gateway, List<Long> acknowledged, long flushed) throws Exception {
        JsonNode snapshots = gateway.call(200, "GET", "/v1/snapshots", null).get("snapshots");
        List<Long> listed = new ArrayList<>();
        snapshots.forEach(s -> listed.add(s.get("id").asLong()));
        synchronized (acknowledged) {
            assertThat(listed).as("every snapshot answered 201 survives").containsAll(acknowledged);
        }
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

    /** Writes 4 KiB records n = FIRST, FIRST+1, ... alternately to ka and kb; after each flush of both prints n. */
    private static final String WRITER = """
            import nbd, struct, sys
            a = nbd.NBD(); a.connect_uri("nbd://127.0.0.1:PORT/ka")
            b = nbd.NBD(); b.connect_uri("nbd://127.0.0.1:PORT/kb")
            n = FIRST
            while n < 16384:
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
                WRITER.replace("PORT", Integer.toString(port)).replace("FIRST", Long.toString(first)))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static Thread readFlushed(Process writer, AtomicLong lastFlushed) {
        Thread reader = new Thread(() -> {
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(writer.getInputStream(), StandardCharsets.UTF_8))) {
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
