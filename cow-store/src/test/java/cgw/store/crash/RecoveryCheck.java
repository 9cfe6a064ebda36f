package cgw.store.crash;

import cgw.store.crash.Journal.History;
import cgw.store.crash.Journal.Kind;
import cgw.store.crash.Journal.Op;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Decides whether a volume read after a crash is a state the store may recover to, given the
 * content before the round ({@code base}) and the round's {@link Journal}. See {@link CrashTest}
 * for the invariant; this class is its arithmetic.
 *
 * <p>The volume is cut into segments: inside one block, maximal byte ranges covered by the same
 * set of operations. A segment holds exactly one thing: the base, or the content of one operation
 * covering it (zeros for write-zeroes and trim). Its candidates are all of those that match what
 * was read. Single-threaded; one instance per check.
 */
final class RecoveryCheck {
    /** Violations listed in a failure message; the rest are counted. */
    private static final int MAX_REPORTED = 8;
    /** Operations covering a segment listed in a failure message, the latest ones. */
    private static final int MAX_LISTED_OPS = 6;

    private final History history;
    private final byte[] base;
    private final byte[] observed;
    private final int blockSize;
    private final List<Segment> segments = new ArrayList<>();
    /** DATA operations that are the only candidate of some segment: they certainly survived. */
    private final Set<Op> seen = new HashSet<>();
    private final List<String> violations = new ArrayList<>();
    private int violationCount;

    /** A byte range {@code [from, to)} inside one block, covered by exactly {@code cover}. */
    private record Segment(int block, int from, int to, List<Op> cover, List<Op> candidates, boolean isBase) {
        boolean matchesAnything() {
            return isBase || !candidates.isEmpty();
        }
    }

    private RecoveryCheck(History history, byte[] base, byte[] observed, int blockSize) {
        this.history = history;
        this.base = base;
        this.observed = observed;
        this.blockSize = blockSize;
    }

    /** The violations found, at most {@link #MAX_REPORTED} described and a count of the rest; empty when the state is valid. */
    static List<String> run(History history, byte[] base, byte[] observed, int blockSize) {
        return run(history, base, observed, blockSize, false);
    }

    /**
     * {@link #run} after a power cut ({@code powerCut}): only the operations acknowledged before a
     * flush that completed are survivors. The rest may each be there or not, as on a disk with a
     * volatile cache: neither a point in time nor everything acknowledged is promised.
     */
    static List<String> run(History history, byte[] base, byte[] observed, int blockSize, boolean powerCut) {
        RecoveryCheck check = new RecoveryCheck(history, base, observed, blockSize);
        check.cutSegments();
        check.checkIdentity();
        check.checkBlockAtomicity();
        check.checkSurvivors(powerCut);
        if (check.violationCount > MAX_REPORTED) {
            check.violations.add("... and " + (check.violationCount - MAX_REPORTED) + " more violations");
        }
        return check.violations;
    }

    private void cutSegments() {
        int blocks = observed.length / blockSize;
        List<List<Op>> touching = new ArrayList<>(blocks);
        for (int b = 0; b < blocks; b++) {
            touching.add(new ArrayList<>());
        }
        for (Op op : history.ops()) {
            if (op.lengthBytes() > 0) {
                for (long b = op.offset() / blockSize; b <= (op.end() - 1) / blockSize; b++) {
                    touching.get((int) b).add(op);
                }
            }
        }
        for (int b = 0; b < blocks; b++) {
            int blockStart = b * blockSize;
            List<Op> ops = touching.get(b);
            int[] bounds = new int[2 + 2 * ops.size()];
            bounds[0] = blockStart;
            bounds[1] = blockStart + blockSize;
            for (int i = 0; i < ops.size(); i++) {
                bounds[2 + 2 * i] = (int) Math.max(blockStart, ops.get(i).offset());
                bounds[3 + 2 * i] = (int) Math.min(blockStart + blockSize, ops.get(i).end());
            }
            int[] cuts = Arrays.stream(bounds).sorted().distinct().toArray();
            for (int i = 0; i + 1 < cuts.length; i++) {
                int from = cuts[i];
                int to = cuts[i + 1];
                List<Op> cover = new ArrayList<>();
                List<Op> candidates = new ArrayList<>();
                for (Op op : ops) {
                    if (op.offset() <= from && op.end() >= to) {
                        cover.add(op);
                        if (op.kind() == Kind.DATA
                                ? OpContent.matches(op.seq(), observed, from, to)
                                : isZero(from, to)) {
                            candidates.add(op);
                        }
                    }
                }
                boolean isBase = Arrays.equals(base, from, to, observed, from, to);
                Segment segment = new Segment(b, from, to, cover, candidates, isBase);
                segments.add(segment);
                if (!isBase && candidates.size() == 1 && candidates.get(0).kind() == Kind.DATA) {
                    seen.add(candidates.get(0));
                }
            }
        }
    }

    /** Every segment holds the base or the content of one operation covering it: nothing else, no mix. */
    private void checkIdentity() {
        for (Segment s : segments) {
            if (!s.matchesAnything()) {
                report("TORN OR FOREIGN DATA", s, null, "it matches neither the content before the round nor"
                        + " any operation covering it");
            }
        }
    }

    /**
     * A write reaches a block in one put, so where it is seen in a block, every other byte it wrote
     * there shows it or something that may have been applied after it; never the base or an
     * operation that completed before it began.
     */
    private void checkBlockAtomicity() {
        for (int i = 0; i < segments.size();) {
            int block = segments.get(i).block();
            int end = i;
            while (end < segments.size() && segments.get(end).block() == block) {
                end++;
            }
            List<Segment> inBlock = segments.subList(i, end);
            for (Segment s : inBlock) {
                if (s.isBase() || s.candidates().size() != 1 || !seen.contains(s.candidates().get(0))) {
                    continue;
                }
                Op write = s.candidates().get(0);
                for (Segment other : inBlock) {
                    if (other.matchesAnything() && other.cover().contains(write)
                            && other.candidates().stream().noneMatch(v -> !v.precedes(write))) {
                        report("TORN WRITE", other, write, "it should show " + write + ", visible at ["
                                + s.from() + ", " + s.to() + ") of the same block");
                    }
                }
            }
            i = end;
        }
    }

    /**
     * Survivors: every operation acknowledged before a completed flush and, the recovered state
     * being a point in time (RocksDB replays a prefix of its WAL), every operation that completed
     * before a visible write began. A segment covered by a survivor X holds X or something that
     * did not complete before X began. Checked first with those survivors (the store's durability
     * and recovery promises), then with every acknowledged operation (the promise of
     * {@code BlockStore.write}: it survives a process kill at once). After a power cut only the
     * first part, with the flushed operations as the only survivors.
     */
    private void checkSurvivors(boolean powerCut) {
        Op lastSeen = powerCut ? null : seen.stream().max(Comparator.comparingInt(Op::startLine)).orElse(null);
        int survivorBound = Math.max(history.flushLine(), lastSeen == null ? -1 : lastSeen.startLine());
        for (Segment s : segments) {
            if (!s.matchesAnything()) {
                continue;
            }
            Op lost = overwrittenSurvivor(s, survivorBound);
            if (lost != null) {
                if (lost.ackLine() < history.flushLine()) {
                    report("LOST FLUSHED WRITE", s, lost, "it should show " + lost + ", acknowledged before the flush"
                            + " that started at line " + history.flushLine() + " completed");
                } else {
                    report("NOT A POINT IN TIME", s, lost, "it should show " + lost + ", which completed before "
                            + lastSeen + " began, and that one is visible");
                }
                continue;
            }
            lost = powerCut ? null : overwrittenSurvivor(s, Journal.NEVER);
            if (lost != null) {
                report("LOST ACKNOWLEDGED WRITE", s, lost, "it should show " + lost + ": BlockStore.write promises"
                        + " that an acknowledged write survives a process kill");
            }
        }
    }

    /**
     * The latest-starting survivor covering {@code s} when no candidate of {@code s} can have been
     * applied after it; null when the segment is consistent. Survivors: the operations
     * acknowledged before journal line {@code ackBound}.
     */
    private static Op overwrittenSurvivor(Segment s, int ackBound) {
        Op latest = null;
        for (Op op : s.cover()) {
            if (op.ackLine() < ackBound && (latest == null || op.startLine() > latest.startLine())) {
                latest = op;
            }
        }
        if (latest == null) {
            return null;
        }
        for (Op candidate : s.candidates()) {
            if (!candidate.precedes(latest)) {
                return null;
            }
        }
        return latest;
    }

    /** What a segment holds and the latest operations covering it, with {@code expected} among them. */
    private String anatomy(Segment s, Op expected) {
        int shown = Math.min(16, s.to() - s.from());
        String more = s.to() - s.from() > shown ? "..." : "";
        StringBuilder out = new StringBuilder()
                .append("\n    read ").append(HexFormat.of().formatHex(observed, s.from(), s.from() + shown))
                .append(more)
                .append(", before the round ").append(HexFormat.of().formatHex(base, s.from(), s.from() + shown))
                .append(more)
                .append("\n    matching: ").append(s.isBase() ? "the content before the round, " : "")
                .append(s.candidates())
                .append("\n    covered by ").append(s.cover().size()).append(" operations");
        int from = Math.max(0, s.cover().size() - MAX_LISTED_OPS);
        if (from > 0) {
            out.append(", the latest ").append(MAX_LISTED_OPS);
        }
        List<Op> listed = new ArrayList<>(s.cover().subList(from, s.cover().size()));
        s.candidates().stream().filter(op -> !listed.contains(op)).forEach(op -> listed.add(0, op));
        if (expected != null && !listed.contains(expected)) {
            listed.add(expected);
        }
        for (Op op : listed) {
            out.append("\n      ").append(op).append(": ").append(matchingPrefix(op, s)).append(" leading bytes match");
        }
        return out.toString();
    }

    private int matchingPrefix(Op op, Segment s) {
        int p = s.from();
        while (p < s.to() && observed[p] == (op.kind() == Kind.DATA ? OpContent.byteAt(op.seq(), p) : 0)) {
            p++;
        }
        return p - s.from();
    }

    private boolean isZero(int from, int to) {
        for (int p = from; p < to; p++) {
            if (observed[p] != 0) {
                return false;
            }
        }
        return true;
    }

    /** Records a violation at {@code s}; {@code expected} is the operation it should show, if one is known. */
    private void report(String what, Segment s, Op expected, String detail) {
        violationCount++;
        if (violationCount <= MAX_REPORTED) {
            violations.add(what + ": bytes [" + s.from() + ", " + s.to() + ") of block " + s.block() + ": " + detail
                    + anatomy(s, expected));
        }
    }
}
