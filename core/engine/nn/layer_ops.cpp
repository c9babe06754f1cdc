#include "core/engine/nn/layer_ops.h"

#include <cassert>

#include "core/engine/nn/layer_conv.h"
#include "core/engine/nn/layer_dense.h"
#include "core/engine/nn/layer_elementwise.h"
#include "core/engine/nn/layer_max_pool.h"

namespace qplay {

template <typename T>
const LayerOps<T>& layer_ops(LayerKind kind) {
  switch (kind) {  // no default: -Wswitch names a kind that is missing here
    case LayerKind::dense:
      return dense_layer_ops<T>();
    case LayerKind::conv2d:
      return conv2d_layer_ops<T>();
    case LayerKind::max_pool:
      return max_pool_layer_ops<T>();
    case LayerKind::flatten:
      return flatten_layer_ops<T>();
    case LayerKind::relu:
      return relu_layer_ops<T>();
    case LayerKind::tanh:
      return tanh_layer_ops<T>();
    case LayerKind::softplus:
      return softplus_layer_ops<T>();
  }
  assert(false && "layer_ops: not a LayerKind");
  return dense_layer_ops<T>();
}

ConvGeometry layer_geometry(const LayerSpec& layer, int batch) {
  return {batch,        layer.input.height, layer.input.width, layer.input.channels,
          layer.kernel, layer.stride,       layer.padding};
}

size_t layer_scratch_values(const LayerSpec& layer, int batch) {
  if (layer.kind != LayerKind::conv2d) return 0;
  const ConvGeometry g = layer_geometry(layer, batch);
  return size_t(g.patch_count()) * g.patch_size();
}

template const LayerOps<float>& layer_ops<float>(LayerKind kind);
template const LayerOps<double>& layer_ops<double>(LayerKind kind);

}  // namespace qplay
