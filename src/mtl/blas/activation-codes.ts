/** The native epilogue's and activation gradient's activation codes (native/mtl_blas.c), by tfjs activation name. */
export const ACTIVATION_CODES: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, sigmoid: 4, leakyrelu: 5, tanh: 6 };
