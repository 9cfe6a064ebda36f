package cgw.nbd.export;

/**
 * What a client learns of an export during the handshake.
 *
 * @param name        the canonical export name ({@code VOLUME} or {@code VOLUME@SNAPSHOT})
 * @param sizeBytes   the export size
 * @param readOnly    writes, trims and write-zeroes fail with EPERM
 * @param description shown by clients such as {@code nbdinfo}
 */
public record ExportInfo(String name, long sizeBytes, boolean readOnly, String description) {
}
