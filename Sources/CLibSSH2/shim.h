/* CLibSSH2: the parts of libssh2 (Debian libssh2-1-dev, 1.10) that entropy-tunnel uses.
 *
 * Several libssh2 API names are C macros, which Swift cannot call. Each gets a
 * `static inline` wrapper here, prefixed `clibssh2_`. Nothing else lives in this module. */
#ifndef CLIBSSH2_SHIM_H
#define CLIBSSH2_SHIM_H

#include <libssh2.h>
#include <string.h>

/* libssh2_session_init() */
static inline LIBSSH2_SESSION *clibssh2_session_init(void) {
    return libssh2_session_init_ex(NULL, NULL, NULL, NULL);
}

/* libssh2_session_disconnect() */
static inline int clibssh2_session_disconnect(LIBSSH2_SESSION *session, const char *description) {
    return libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, description, "");
}

/* libssh2_channel_open_session() with an explicit receive window and packet size. */
static inline LIBSSH2_CHANNEL *clibssh2_channel_open_session(LIBSSH2_SESSION *session,
                                                             unsigned int window,
                                                             unsigned int packet) {
    return libssh2_channel_open_ex(session, "session", sizeof("session") - 1, window, packet, NULL, 0);
}

/* libssh2_channel_exec() */
static inline int clibssh2_channel_exec(LIBSSH2_CHANNEL *channel, const char *command) {
    return libssh2_channel_process_startup(channel, "exec", sizeof("exec") - 1,
                                           command, (unsigned int)strlen(command));
}

/* libssh2_channel_read() and libssh2_channel_read_stderr() */
static inline ssize_t clibssh2_channel_read(LIBSSH2_CHANNEL *channel, char *buffer, size_t length) {
    return libssh2_channel_read_ex(channel, 0, buffer, length);
}
static inline ssize_t clibssh2_channel_read_stderr(LIBSSH2_CHANNEL *channel, char *buffer, size_t length) {
    return libssh2_channel_read_ex(channel, SSH_EXTENDED_DATA_STDERR, buffer, length);
}

/* libssh2_channel_close() etc. are functions already; these are constants Swift cannot see. */
static const int CLIBSSH2_KNOWNHOST_KEY_MASK = LIBSSH2_KNOWNHOST_KEY_MASK;
static const int CLIBSSH2_SESSION_BLOCK_INBOUND = LIBSSH2_SESSION_BLOCK_INBOUND;
static const int CLIBSSH2_SESSION_BLOCK_OUTBOUND = LIBSSH2_SESSION_BLOCK_OUTBOUND;

#endif
