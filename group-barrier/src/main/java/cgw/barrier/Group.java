package cgw.barrier;

import java.util.List;

/** A named set of volumes snapshotted together; a volume is in at most one group. */
public record Group(String name, List<String> volumes) {
    public Group {
        volumes = List.copyOf(volumes);
    }
}
