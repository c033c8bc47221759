# client: the API client library (libcurl), used by vmctl, the executor and
# the benchmarks.
noinst_LTLIBRARIES += src/client/libvmclient.la
src_client_libvmclient_la_SOURCES = src/client/client.c src/client/client.h \
	src/client/console.c src/client/console.h
src_client_libvmclient_la_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
src_client_libvmclient_la_LIBADD = src/util/libvmutil.la $(CURL_LIBS) $(JSONC_LIBS)
