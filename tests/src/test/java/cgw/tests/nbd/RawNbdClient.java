package cgw.tests.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/**
 * A hand-driven NBD client for protocol edge cases: it sends exactly the bytes a test asks for,
 * right or wrong, and decodes what comes back. Not a general client.
 */
final class RawNbdClient implements AutoCloseable {
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_LIST = 3;
    static final int OPT_STARTTLS = 5;
    static final int OPT_INFO = 6;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;
    static final int OPT_SET_META_CONTEXT = 10;

    static final int REP_ACK = 1;
    static final int REP_INFO = 3;
    static final int REP_ERR_UNSUP = 0x80000001;
    static final int REP_ERR_POLICY = 0x80000002;
    static final int REP_ERR_INVALID = 0x80000003;
    static final int REP_ERR_TLS_REQD = 0x80000005;
    static final int REP_ERR_UNKNOWN = 0x80000006;
    static final int REP_ERR_TOO_BIG = 0x80000009;

    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    static final int CMD_TRIM = 4;
    static final int CMD_WRITE_ZEROES = 6;
    static final int CMD_BLOCK_STATUS = 7;

    static final int EPERM = 1;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;

    record OptionReply(int option, int type, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    record Reply(int error, long cookie, byte[] data) {
    }

    private final Socket socket;
    final DataInputStream in;
    final DataOutputStream out;
    long exportSize;
    int transmissionFlags;

    RawNbdClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(10_000);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    Socket socket() {
        return socket;
    }

    /** Reads the greeting and answers with fixed newstyle + no zeroes. */
    RawNbdClient greet() throws IOException {
        assertThat(in.readLong()).isEqualTo(0x4e42444d41474943L);
        assertThat(in.readLong()).isEqualTo(IHAVEOPT);
        assertThat(in.readUnsignedShort() & 1).isEqualTo(1);
        out.writeInt(3);
        out.flush();
        return this;
    }

    void sendOption(int option, byte[] data) throws IOException {
        out.writeLong(IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    OptionReply readOptionReply() throws IOException {
        assertThat(in.readLong()).isEqualTo(OPTION_REPLY_MAGIC);
        int option = in.readInt();
        int type = in.readInt();
        byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    static byte[] goData(String name) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        return java.nio.ByteBuffer.allocate(4 + bytes.length + 2).putInt(bytes.length).put(bytes).putShort((short) 0)
                .array();
    }

    /** GO on {@code name}; returns the final reply (ACK on success). */
    OptionReply go(String name) throws IOException {
        sendOption(OPT_GO, goData(name));
        while (true) {
            OptionReply reply = readOptionReply();
            if (reply.type() == REP_INFO && reply.data().length == 12) {
                java.nio.ByteBuffer info = java.nio.ByteBuffer.wrap(reply.data());
                if (info.getShort(0) == 0) {
                    exportSize = info.getLong(2);
                    transmissionFlags = Short.toUnsignedInt(info.getShort(10));
                }
            }
            if (reply.type() != REP_INFO) {
                return reply;
            }
        }
    }

    void request(int flags, int type, long cookie, long offset, long length, byte[] payload) throws IOException {
        header(flags, type, cookie, offset, length);
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    /** Writes a request header, unflushed: its payload, if any, is the caller's to send. */
    void header(int flags, int type, long cookie, long offset, long length) throws IOException {
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int) length);
    }

    /** A simple reply; {@code dataBytes} of data follow it on success (reads). */
    Reply readSimpleReply(int dataBytes) throws IOException {
        assertThat(in.readInt()).isEqualTo(SIMPLE_REPLY_MAGIC);
        int error = in.readInt();
        long cookie = in.readLong();
        byte[] data = new byte[error == 0 ? dataBytes : 0];
        in.readFully(data);
        return new Reply(error, cookie, data);
    }

    /** Whether the server closed the connection (EOF) within the socket timeout. */
    boolean closedByServer() throws IOException {
        try {
            while (in.read() >= 0) {
                // drain whatever the server sent before closing
            }
            return true;
        } catch (EOFException e) {
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return e.getMessage() != null && e.getMessage().contains("reset");
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
