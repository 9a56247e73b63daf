import BulkheadCLI

#if canImport(Glibc)
  import Glibc
#endif

exit(BulkheadMain.main())
