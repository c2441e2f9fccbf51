"""An `ae` autoencoder as a PyTorch module, written by `ae export --format pytorch`.

    from model import load
    model = load("model.safetensors").eval()   # strict: every tensor name and shape must match
    reconstructions = model(images)            # images: [N, C, H, W] float32 in [0, 1]
    codes = model.encode(images)               # a VAE's: the means
    images = model.decode(codes)

The network is built from DESCRIPTION, the `layers` metadata `ae` writes into its model files
(format `ae-autoencoder-v2`, see docs/model-format.md in `ae`): no other file is needed. The
parameters keep the model file's names (`encoder.conv0.weight`, `code.weight`, ...), so
`model.state_dict()` can be saved back with safetensors. Modules without a prefix in the file
(`code`, `code_norm`) live in `self.bottleneck`, since a submodule named `code` clashes with
`torch.fx.GraphModule.code` in `torch.onnx.export`; the state-dict hooks below map the names.
A model with a linear path (`"linear_path": true`) has `self.linear["encode"]` and
`self.linear["decode"]` beside the steps: their outputs add to the code and to the output, which is
then linear and clipped to [0, 1].
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

DESCRIPTION = json.loads(r"""__DESCRIPTION__""")
PREPROCESSING = json.loads(r"""__PREPROCESSING__""")

_WITH_PARAMETERS = ("conv2d", "conv_transpose2d", "linear", "batch_norm1d", "batch_norm2d")


def _module(step):
    op = step["op"]
    if op == "conv2d":
        top, left, bottom, right = step["pads"]
        # Symmetric padding is the module's own; other padding is added in `_run`.
        padding = (top, left) if (top, left) == (bottom, right) else 0
        return nn.Conv2d(step["input"][0], step["output"][0], step["kernel"], step["stride"], padding)
    if op == "conv_transpose2d":
        return nn.ConvTranspose2d(step["input"][0], step["output"][0], step["kernel"], step["stride"])
    if op == "linear":
        return nn.Linear(step["input"][0], step["output"][0])
    if op == "batch_norm1d":
        return nn.BatchNorm1d(step["input"][0], eps=step["eps"])
    if op == "batch_norm2d":
        return nn.BatchNorm2d(step["input"][0], eps=step["eps"])
    if op == "dropout":
        return nn.Dropout(step["p"])
    return None


class Autoencoder(nn.Module):
    def __init__(self, description=DESCRIPTION):
        super().__init__()
        self.steps = description["steps"]
        self.code_step = next(i for i, s in enumerate(self.steps) if s["name"] == description["code"])
        self.encoder, self.decoder, self.bottleneck = nn.ModuleDict(), nn.ModuleDict(), nn.ModuleDict()
        for step in self.steps:
            module = _module(step)
            if module is not None:
                self._container(step["name"])[step["name"].split(".")[-1]] = module
        self.image = description["input"]
        self.linear = nn.ModuleDict()
        if description.get("linear_path"):
            pixels, code = self.image[0] * self.image[1] * self.image[2], self.steps[self.code_step]["output"][0]
            self.linear["encode"], self.linear["decode"] = nn.Linear(pixels, code), nn.Linear(code, pixels)
        self._register_load_state_dict_pre_hook(self._from_file_names)
        self._register_state_dict_hook(Autoencoder._to_file_names)

    def _container(self, name):
        head = name.split(".")[0]
        return {"encoder": self.encoder, "decoder": self.decoder}.get(head, self.bottleneck) if "." in name else self.bottleneck

    def _get(self, step):
        return self._container(step["name"])[step["name"].split(".")[-1]]

    @staticmethod
    def _from_file_names(state_dict, prefix, *args):
        for key in [k for k in state_dict if k.startswith(prefix)]:
            rest = key[len(prefix):]
            if rest.split(".")[0] not in ("encoder", "decoder", "bottleneck", "linear"):
                state_dict[prefix + "bottleneck." + rest] = state_dict.pop(key)

    @staticmethod
    def _to_file_names(module, state_dict, prefix, local_metadata):
        for key in [k for k in state_dict if k.startswith(prefix + "bottleneck.")]:
            state_dict[prefix + key[len(prefix + "bottleneck."):]] = state_dict.pop(key)
        return state_dict

    def _run(self, x, steps, last_activation=True):
        heads = None
        for i, step in enumerate(steps):
            op = step["op"]
            if op == "conv2d":
                conv = self._get(step)
                top, left, bottom, right = step["pads"]
                if (top, left) != (bottom, right):
                    x = F.pad(x, (left, right, top, bottom))
                x = conv(x)
            elif op == "conv_transpose2d":
                convt = self._get(step)
                top, left, bottom, right = step["crop"]
                pad_h, pad_w = step["output_padding"]
                x = F.conv_transpose2d(x, convt.weight, None, convt.stride)
                x = x[:, :, top:x.shape[2] - bottom, left:x.shape[3] - right]
                if pad_h or pad_w:
                    x = F.pad(x, (0, pad_w, 0, pad_h))
                x = x + convt.bias[None, :, None, None]
            elif op in ("linear", "batch_norm1d", "batch_norm2d", "dropout"):
                x = self._get(step)(x)
            elif op == "gaussian_sample":
                heads = x
                mean, log_var = x.chunk(2, dim=1)
                x = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean) if self.training else mean
            elif op == "flatten":
                x = torch.flatten(x, 1)
            elif op == "unflatten":
                c, h, w = step["output"]
                if step["order"] == "chw":
                    x = x.reshape(-1, c, h, w)
                else:  # the code's values in H, W, C order, as TensorFlow reshapes
                    x = x.reshape(-1, h, w, c).permute(0, 3, 1, 2)
            else:
                raise ValueError(f"unknown step {op}")
            activation = step["activation"] if last_activation or i < len(steps) - 1 else "identity"
            if activation == "relu":
                x = F.relu(x)
            elif activation == "sigmoid":
                x = torch.sigmoid(x)
        return x, heads

    def _with_linear_code(self, x, code):
        return code + self.linear["encode"](torch.flatten(x, 1)) if "encode" in self.linear else code

    def _with_linear_output(self, z, out):
        """The last step's output plus the linear decoder's reading of code `z` (unclipped)."""
        return out + self.linear["decode"](z).reshape(-1, *self.image) if "decode" in self.linear else out

    def encode(self, x):
        """Images [N, C, H, W] in [0, 1] to codes [N, L] (a VAE's: sampled in training, else the means)."""
        return self._with_linear_code(x, self._run(x, self.steps[: self.code_step + 1])[0])

    def decode(self, z):
        """Codes [N, L] to images [N, C, H, W]."""
        out = self._run(z, self.steps[self.code_step + 1:])[0]
        return self._with_linear_output(z, out).clamp(0, 1) if "decode" in self.linear else out

    def logits(self, x):
        """The output sigmoid's inputs (with a linear path: the output before its clipping), the
        code, and a VAE's [mean, log variance] (else None)."""
        code, heads = self._run(x, self.steps[: self.code_step + 1])
        code = self._with_linear_code(x, code)
        logits, _ = self._run(code, self.steps[self.code_step + 1:], last_activation=False)
        return self._with_linear_output(code, logits), code, heads

    def forward(self, x):
        return self.decode(self.encode(x))


def load(path="model.safetensors"):
    """The model of DESCRIPTION with the weights of an `ae` model file, strictly checked."""
    from safetensors.torch import load_file

    model = Autoencoder()
    model.load_state_dict(load_file(path))
    return model
