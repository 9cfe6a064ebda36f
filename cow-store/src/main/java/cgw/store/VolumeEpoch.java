package cgw.store;

/** One epoch of one volume, e.g. a volume's part of a group snapshot. */
public record VolumeEpoch(Volume volume, long epoch) {
}
