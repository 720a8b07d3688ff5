/* version.h - the ftsc release, kept in step with VERSION in the Makefile. */
#ifndef FTS_VERSION_H
#define FTS_VERSION_H
#define FTSC_VERSION "0.1.0"
#endif /* FTS_VERSION_H */
