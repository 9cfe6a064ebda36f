package cgw.store.crash;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link CrashWriter} did, one line per event, in the order the events happened: the
 * writer appends each line with one {@code write(2)} under a lock, so line order is real-time
 * order. A SIGKILL keeps every line already written (the page cache survives the process); only a
 * last line without its newline is dropped by {@link #read}.
 *
 * <pre>
 *   S seq kind offset lengthBytes   written just before the store call of operation seq
 *   A seq                           written just after that call returned (acknowledged)
 *   F id                            written just before flush() number id is called
 *   D id                            written just after flush() number id returned
 *   C id                            written just before cut number id
 *   E id epoch                      written just after cut number id sealed epoch
 * </pre>
 *
 * So "A x" before "S y" means x completed before y began, and "A x" before "F id" with a
 * matching "D id" means x was acknowledged before a flush that completed: x is durable.
 */
final class Journal implements AutoCloseable {
    /** What an operation does to its byte range. */
    enum Kind {
        /** Writes {@link OpContent} of its sequence number. */
        DATA,
        /** {@code writeZeroes}: the range reads as zeros. */
        ZEROES,
        /** {@code trim}: whole blocks become holes, partial ones zeros; all reads as zeros. */
        TRIM
    }

    /** Line number of an event that never happened, e.g. the acknowledgement of a write cut off by the kill. */
    static final int NEVER = Integer.MAX_VALUE;

    /**
     * One store operation of a round.
     *
     * @param startLine journal line of its S entry
     * @param ackLine   journal line of its A entry, {@link #NEVER} if the kill came first
     */
    record Op(long seq, Kind kind, long offset, long lengthBytes, int startLine, int ackLine) {
        long end() {
            return offset + lengthBytes;
        }

        boolean acknowledged() {
            return ackLine != NEVER;
        }

        /** Whether this operation completed before {@code later} began (real-time order). */
        boolean precedes(Op later) {
            return ackLine < later.startLine;
        }

        @Override
        public String toString() {
            return kind + " #" + Long.toHexString(seq) + " [" + offset + ", +" + lengthBytes + ") started at line "
                    + startLine + (acknowledged() ? ", acknowledged at line " + ackLine : ", never acknowledged");
        }
    }

    /**
     * A parsed journal.
     *
     * @param ops           every operation that was started, in start order
     * @param flushLine     line of the F entry of the last flush that completed; -1 when none did.
     *                      Operations acknowledged before it are durable.
     * @param lines         complete lines in the journal
     */
    record History(List<Op> ops, int flushLine, int lines, List<Cut> cuts, List<Flush> flushes) {
        long acknowledgedCount() {
            return ops.stream().filter(Op::acknowledged).count();
        }

        long durableCount() {
            return ops.stream().filter(op -> op.ackLine() < flushLine).count();
        }

        /**
         * What the epoch {@code cut} sealed can hold: the operations started before the cut
         * returned (a cut waits for writes in flight; later ones go to the next epoch), with those
         * acknowledged before it began durable once a flush that started after it completed, else
         * those acknowledged before the last flush that completed before it began.
         */
        History sealedBy(Cut cut) {
            List<Op> sealed = ops.stream().filter(op -> op.startLine() < cut.doneLine()).toList();
            boolean flushedAfter = flushes.stream().anyMatch(f -> f.startLine() > cut.doneLine());
            int durableBefore = flushes.stream().filter(f -> f.doneLine() < cut.startLine()).mapToInt(Flush::startLine)
                    .max().orElse(-1);
            return new History(sealed, flushedAfter ? cut.startLine() : durableBefore, lines, List.of(), List.of());
        }
    }

    /**
     * A cut of the volume.
     *
     * @param epoch    the epoch it sealed, -1 when the kill came before the E entry
     * @param doneLine journal line of its E entry, {@link #NEVER} if the kill came first
     */
    record Cut(long id, long epoch, int startLine, int doneLine) {
    }

    /** A flush that completed: the lines of its F and D entries. */
    record Flush(int startLine, int doneLine) {
    }

    private final FileChannel channel;

    private Journal(FileChannel channel) {
        this.channel = channel;
    }

    static Journal create(Path path) throws IOException {
        return new Journal(FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND));
    }

    void started(long seq, Kind kind, long offset, long lengthBytes) {
        append("S " + Long.toHexString(seq) + " " + kind + " " + offset + " " + lengthBytes + "\n");
    }

    void acknowledged(long seq) {
        append("A " + Long.toHexString(seq) + "\n");
    }

    void flushStarted(long id) {
        append("F " + id + "\n");
    }

    void flushed(long id) {
        append("D " + id + "\n");
    }

    void cutStarted(long id) {
        append("C " + id + "\n");
    }

    void cut(long id, long epoch) {
        append("E " + id + " " + epoch + "\n");
    }

    /** One line, one write(2): lines never interleave, and their order is the order of the calls. */
    private synchronized void append(String line) {
        ByteBuffer bytes = ByteBuffer.wrap(line.getBytes(StandardCharsets.US_ASCII));
        try {
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("journal write failed", e);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** Parses a journal; a missing file (killed before it was created) is an empty history. */
    static History read(Path path) throws IOException {
        String text;
        try {
            text = Files.readString(path, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            return new History(List.of(), -1, 0, List.of(), List.of());
        }
        int complete = text.lastIndexOf('\n') + 1;
        String[] lines = complete == 0 ? new String[0] : text.substring(0, complete).split("\n");
        Map<Long, Op> started = new HashMap<>();
        List<Long> order = new ArrayList<>();
        Map<Long, Integer> flushStarts = new HashMap<>();
        Map<Long, Cut> cuts = new java.util.LinkedHashMap<>();
        List<Flush> flushes = new ArrayList<>();
        int flushLine = -1;
        for (int line = 0; line < lines.length; line++) {
            String[] f = lines[line].split(" ");
            switch (f[0]) {
                case "S" -> {
                    long seq = Long.parseUnsignedLong(f[1], 16);
                    started.put(seq, new Op(seq, Kind.valueOf(f[2]), Long.parseLong(f[3]), Long.parseLong(f[4]),
                            line, NEVER));
                    order.add(seq);
                }
                case "A" -> {
                    long seq = Long.parseUnsignedLong(f[1], 16);
                    Op op = started.get(seq);
                    if (op == null || op.acknowledged()) {
                        throw new IllegalStateException(
                                "journal " + path + " line " + line + ": unexpected " + lines[line]);
                    }
                    started.put(seq, new Op(seq, op.kind(), op.offset(), op.lengthBytes(), op.startLine(), line));
                }
                case "F" -> flushStarts.put(Long.parseLong(f[1]), line);
                case "D" -> {
                    Integer start = flushStarts.get(Long.parseLong(f[1]));
                    if (start == null) {
                        throw new IllegalStateException(
                                "journal " + path + " line " + line + ": unexpected " + lines[line]);
                    }
                    flushLine = Math.max(flushLine, start);
                    flushes.add(new Flush(start, line));
                }
                case "C" -> cuts.put(Long.parseLong(f[1]), new Cut(Long.parseLong(f[1]), -1, line, NEVER));
                case "E" -> {
                    Cut cut = cuts.get(Long.parseLong(f[1]));
                    if (cut == null) {
                        throw new IllegalStateException(
                                "journal " + path + " line " + line + ": unexpected " + lines[line]);
                    }
                    cuts.put(cut.id(), new Cut(cut.id(), Long.parseLong(f[2]), cut.startLine(), line));
                }
                default -> throw new IllegalStateException("journal " + path + " line " + line + ": " + lines[line]);
            }
        }
        List<Op> ops = new ArrayList<>(order.size());
        for (long seq : order) {
            ops.add(started.get(seq));
        }
        return new History(List.copyOf(ops), flushLine, lines.length, List.copyOf(cuts.values()),
                List.copyOf(flushes));
    }
}
