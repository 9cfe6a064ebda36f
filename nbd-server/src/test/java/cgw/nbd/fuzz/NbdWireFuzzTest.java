package cgw.nbd.fuzz;

import cgw.host.InFlight;
import cgw.nbd.StoreFixture;
import cgw.nbd.export.Export;
import cgw.nbd.export.ExportPolicy;
import cgw.nbd.handshake.HandshakePipeline;
import cgw.nbd.transmission.MemoryBudget;
import cgw.nbd.transmission.MetaContexts;
import cgw.nbd.transmission.TransmissionPipeline;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;

/**
 * Coverage-guided fuzzing of what an NBD client sends: the handshake (then transmission, when the
 * input picks an export) and transmission alone, on a real store. Any exception that escapes the
 * pipeline, a hang, or a buffer leaked (Netty's paranoid leak detector) is a finding. In
 * {@code mvn verify} the committed inputs run as regression tests; {@code bench/fuzz.sh} fuzzes.
 */
class NbdWireFuzzTest {
    private static final int MAX_PAYLOAD_BYTES = 1 << 20;
    /** One store for every input: opening RocksDB per input would leave the fuzzer no time. */
    private static StoreFixture fixture;
    private static Path fixtureDir;
    private static final InFlight IN_FLIGHT = new InFlight("fuzz");
    private static final MemoryBudget MEMORY = new MemoryBudget(256L << 20);

    private static synchronized StoreFixture fixture() {
        if (fixture == null) {
            try {
                fixtureDir = Files.createTempDirectory("cgw-nbd-fuzz");
                fixture = new StoreFixture(fixtureDir, Runnable::run);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return fixture;
    }

    @AfterAll
    static synchronized void closeStore() throws IOException {
        if (fixture != null) {
            fixture.close();
            fixture = null;
            try (Stream<Path> files = Files.walk(fixtureDir)) {
                for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(file);
                }
            }
        }
    }

    @FuzzTest(maxDuration = "2h", maxExecutions = 1_000_000)
    void handshake(byte[] input) {
        EmbeddedChannel channel = new EmbeddedChannel();
        HandshakePipeline.install(channel.pipeline(), fixture().exports, ExportPolicy.ANYONE, null,
                MAX_PAYLOAD_BYTES,
                (pipeline, after, export, structured, contexts) -> TransmissionPipeline.install(pipeline,
                        after, export, structured, contexts, MAX_PAYLOAD_BYTES, 16, 4L << 20, IN_FLIGHT, MEMORY,
                        30_000));
        channel.pipeline().fireChannelActive();
        feed(channel, input);
    }

    /** The first byte chooses structured replies and the allocation context; the rest is the request stream. */
    @FuzzTest(maxDuration = "2h", maxExecutions = 1_000_000)
    void transmission(byte[] input) {
        if (input.length == 0) {
            return;
        }
        EmbeddedChannel channel = new EmbeddedChannel();
        Export export = fixture().exports.open(StoreFixture.VOLUME);
        transmission(channel.pipeline(), null, export, (input[0] & 1) != 0,
                (input[0] & 2) != 0 ? MetaContexts.allocation(1) : MetaContexts.NONE);
        feed(channel, Arrays.copyOfRange(input, 1, input.length));
    }

    private static void transmission(io.netty.channel.ChannelPipeline pipeline, String after, Export export,
            boolean structured, MetaContexts contexts) {
        TransmissionPipeline.install(pipeline, after, export, structured, contexts, MAX_PAYLOAD_BYTES, 16, 4L << 20,
                IN_FLIGHT, MEMORY, 30_000);
    }

    /** Sends the input in two pieces, as TCP may, then ends the connection and drops every reply. */
    private static void feed(EmbeddedChannel channel, byte[] input) {
        int split = input.length / 2;
        try {
            channel.writeInbound(Unpooled.wrappedBuffer(input, 0, split));
            if (channel.isOpen()) { // the server may have hung up: a client's later bytes go nowhere
                channel.writeInbound(Unpooled.wrappedBuffer(input, split, input.length - split));
            }
            channel.runPendingTasks();
        } finally {
            channel.finishAndReleaseAll();
        }
    }
}
