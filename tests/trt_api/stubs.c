/*
 * Stand-ins for TensorRT's shared libraries, for checking API use without TensorRT.
 *
 * The tensorrt Python bindings (tensorrt_bindings/tensorrt.so) link libnvinfer.so.N,
 * libnvonnxparser.so.N and libnvinfer_plugin.so.N and resolve only the C entry points below.
 * Built three times (one library each, selected with -DSTUB_NVINFER / -DSTUB_NVONNXPARSER /
 * -DSTUB_NVINFER_PLUGIN) and put on LD_LIBRARY_PATH, they let the real module import, so its classes,
 * enums, methods and pybind11 signatures can be inspected. Every entry point returns NULL or 0:
 * anything that reaches TensorRT itself fails (e.g. trt.Builder(logger) raises TypeError), which is
 * the point: this checks API *use*, never behaviour.
 */
#include <stddef.h>

#define STUB_EXPORT __attribute__((visibility("default")))

#ifdef STUB_NVINFER
STUB_EXPORT void *createInferBuilder_INTERNAL(void *logger, int version) { (void)logger; (void)version; return NULL; }
STUB_EXPORT void *createInferRuntime_INTERNAL(void *logger, int version) { (void)logger; (void)version; return NULL; }
STUB_EXPORT void *createInferRefitter_INTERNAL(void *engine, void *logger, int version)
{
    (void)engine; (void)logger; (void)version;
    return NULL;
}
STUB_EXPORT void *getPluginRegistry(void) { return NULL; }
STUB_EXPORT void *getBuilderPluginRegistry(int capability) { (void)capability; return NULL; }
#endif

#ifdef STUB_NVONNXPARSER
STUB_EXPORT void *createNvOnnxParser_INTERNAL(void *network, void *logger, int version)
{
    (void)network; (void)logger; (void)version;
    return NULL;
}
STUB_EXPORT void *createNvOnnxParserRefitter_INTERNAL(void *refitter, void *logger, int version)
{
    (void)refitter; (void)logger; (void)version;
    return NULL;
}
STUB_EXPORT int getNvOnnxParserVersion(void) { return 0; }
#endif

#ifdef STUB_NVINFER_PLUGIN
STUB_EXPORT int initLibNvInferPlugins(void *logger, const char *library_namespace)
{
    (void)logger; (void)library_namespace;
    return 0;
}
#endif
