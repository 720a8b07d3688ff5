"""Golden trajectories of torch.optim on bfloat16 and float16 parameters, in
both precisions of libftsrt (enum ftsrt_precision):

  param   torch.optim stepping bf16/fp16 parameters directly (its state is
          then of the same dtype), as torch.optim does on CPU;
  master  torch.optim stepping float32 parameters (the master weights, state
          float32) whose gradients are the bf16/fp16 gradients widened, the
          bf16/fp16 model copy rounded from them after every step.

    /usr/bin/python3 tests/data/golden/lowp/gen.py    (Debian's python3-torch)

writes <case>.<dtype>.<precision>.bin here, little-endian: the initial
parameters (N uint16 bit patterns, tensors of SHAPES concatenated), then per
step the gradients (N uint16) and the parameters after the step (N uint16),
and for master also the master weights after the step (N float32).  CASES
and SHAPES are repeated in tests/unit/check_lowp.c, which replays them.
"""
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(4, 8), (16,), (3,)]
STEPS = 20
# Hyper-parameters are dyadic (exact in bfloat16 and float16): torch 1.13
# rounds a Python scalar to the tensor's dtype before a bf16/fp16 op, torch
# 2.x keeps it in float for mul, div, lerp, addcmul and addcdiv, and with
# these values both mean the same.  sgd_alpha's are not: its only scalars
# are add's alpha, which both versions round.
CASES = [  # name, torch.optim class, keyword arguments (foreach=False added)
    ("sgd", "SGD", dict(lr=0.125, momentum=0.875, weight_decay=2 ** -6)),
    ("sgd_nesterov", "SGD", dict(lr=0.0625, momentum=0.875, nesterov=True)),
    ("adam", "Adam", dict(lr=2 ** -7, betas=(0.875, 1 - 2 ** -7), weight_decay=0.125)),
    ("adamw", "AdamW", dict(lr=2 ** -7, betas=(0.875, 1 - 2 ** -7), weight_decay=0.125)),
    ("adam_amsgrad", "Adam", dict(lr=2 ** -7, betas=(0.875, 1 - 2 ** -7), amsgrad=True)),
    ("adagrad", "Adagrad", dict(lr=0.0625, weight_decay=2 ** -6)),
    ("rmsprop", "RMSprop", dict(lr=2 ** -7, alpha=1 - 2 ** -7, momentum=0.875, centered=True)),
    # add(other, alpha=...) rounds alpha to the dtype in torch 1.13 and 2.x alike
    ("sgd_alpha", "SGD", dict(lr=0.1, weight_decay=0.01)),
    ("adadelta", "Adadelta", dict(lr=1.0, rho=0.875, eps=2 ** -6, weight_decay=2 ** -6)),
    # Adamax: 1.13's exp_avg is mul_ then add_ (2.x: lerp_), and its -clr is
    # rounded to the dtype before addcdiv_ (2.x keeps it in float)
    ("adamax", "Adamax", dict(lr=2 ** -5, betas=(0.875, 1 - 2 ** -7), eps=2 ** -20, weight_decay=2 ** -6)),
    ("rprop", "Rprop", dict(lr=2 ** -6, etas=(0.5, 1.25), step_sizes=(2 ** -14, 2 ** -3))),
    # RAdam's bias corrections and rectification are not dyadic: torch 1.13
    # rounds them to the dtype where 2.x keeps them in float (measured: 0
    # ulps on the vectorised tensor).  Not here: NAdam (1.13 computes
    # mu_product_next with an extra factor mu, fixed in 2.x) and ASGD (1.13
    # rounds its decay 1 - lambd * eta, which is not dyadic, and its
    # parameters do not show ax)
    ("radam", "RAdam", dict(lr=2 ** -7, betas=(0.875, 1 - 2 ** -5), weight_decay=2 ** -6)),
]
DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16}


def bits(t):
    return t.detach().reshape(-1).view(torch.int16).numpy().astype("<i2").tobytes()


def flat(ts):
    return torch.cat([t.detach().reshape(-1) for t in ts])


def run(name, cls, kw, dt, precision):
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    init = [(torch.randn(s, generator=g) * 0.5).to(dt) for s in SHAPES]
    grads = [[torch.randn(s, generator=g).to(dt) for s in SHAPES] for _ in range(STEPS)]
    if precision == "param":
        ps = [torch.nn.Parameter(t.clone()) for t in init]
    else:
        ps = [torch.nn.Parameter(t.float()) for t in init]
    opt = getattr(torch.optim, cls)(ps, foreach=False, **kw)
    out = [bits(flat(init))]
    for step in range(STEPS):
        for p, gr in zip(ps, grads[step]):
            p.grad = gr.clone() if precision == "param" else gr.float()
        opt.step()
        out.append(bits(flat(grads[step])))
        if precision == "param":
            out.append(bits(flat(ps)))
        else:
            model = flat(ps).to(dt)
            out.append(bits(model))
            out.append(flat(ps).numpy().astype("<f4").tobytes())
    path = os.path.join(HERE, "%s.%s.%s.bin" % (name, {torch.bfloat16: "bf16", torch.float16: "f16"}[dt],
                                               precision))
    with open(path, "wb") as f:
        f.write(b"".join(out))


# --- torch 2.x's arithmetic, emulated -------------------------------------------
#
# torch 1.13 rounds an op's Python or 0-dim scalar to bf16/fp16 before the op;
# 2.x computes a bf16/fp16 op in float32 with the scalar in float32 (add's
# alpha and scalar excepted: both rounded to the dtype) and rounds the result
# once.  Where that difference shows (scalars that are not dyadic) and where
# torch 1.13's optimizer is not 2.x's (NAdam's mu_product_next), EMULATED
# transliterates torch 2.11's single-tensor step (torch/optim/<name>.py,
# foreach=False, not capturable or differentiable) and runs every op as 2.x
# does: the operands widened, the op computed by torch 1.13 in float32 (a
# fused multiply-add -- add's alpha, lerp -- in float64, which is exact before
# its one rounding), the result rounded to the dtype.  These files check that
# the C kernels follow that reading of 2.x op by op; torch 2.x itself is not
# the judge here (Debian has no torch 2).  Param precision only: the master
# precision steps float32 kernels, which tests/data/golden/optim (torch 2.11)
# checks.


def emulated_step(name, kw, dt, ps, grads, states, step):
    R = lambda x: x.to(dt)                          # one rounding to the dtype
    F = lambda x: x.float()
    rs = lambda v: float(torch.tensor(float(v), dtype=torch.float32).to(dt))  # add's scalars

    def fma(a, b, c):                               # a * b + c, one rounding to float32
        return (a.double() * b.double() + c.double()).float() if torch.is_tensor(a) else \
            (float(a) * b.double() + c.double()).float()

    def lerp(s, e, w):                              # ATen's lerp (fmadd), float32
        d = F(e) - F(s)
        return fma(w, d, F(s)) if abs(w) < 0.5 else fma(w - 1, d, F(e))

    lr, wd = kw["lr"], kw.get("weight_decay", 0)
    for p, g, st in zip(ps, grads, states):
        if name in ("adafactor", "adamw", "rprop"):  # decay on the parameter, or none
            st["g16"] = g
            g = F(g)
        else:
            g = F(g)
            if wd:                                  # grad.add(param, alpha=wd)
                g = F(R(fma(rs(wd), F(p), g)))
        if name in ("nadam", "radam"):
            b1, b2 = kw["betas"]
            eps = kw.get("eps", 1e-8)
            m, v = st["m"], st["v"]
            m.copy_(R(lerp(m, g, 1 - b1)))          # exp_avg.lerp_(grad, 1 - beta1)
            v.copy_(R(F(v) * b2))                   # exp_avg_sq.mul_(beta2)
            v.copy_(R(F(v) + (1 - b2) * g * g))     # .addcmul_(grad, grad, value=1 - beta2)
            if name == "nadam":
                md = kw.get("momentum_decay", 4e-3)
                bc2 = 1 - b2 ** step
                mu = b1 * (1.0 - 0.5 * (0.96 ** (step * md)))
                mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
                st["mp"] = float(torch.tensor(st["mp"], dtype=torch.float32) * mu)   # mu_product *= mu
                mp_next = st["mp"] * mu_next
                denom = R(torch.sqrt(F(R(F(v) / bc2))))     # exp_avg_sq.div(bc2).sqrt()
                denom = R(F(denom) + rs(eps))               # .add_(eps)
                p.copy_(R(F(p) + (-lr * (1.0 - mu) / (1.0 - st["mp"])) * g / F(denom)))
                p.copy_(R(F(p) + ((-lr * mu_next) / (1.0 - mp_next)) * F(m) / F(denom)))
            else:
                bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
                upd = R(F(m) / bc1)                         # exp_avg / bias_correction1
                upd = R(F(upd) * lr)                        # * lr
                rho_inf = 2 / (1 - b2) - 1
                rho_t = rho_inf - 2 * step * (b2 ** step) / bc2
                if rho_t > 5.0:
                    sq = R(torch.sqrt(F(v)))                # exp_avg_sq.sqrt()
                    sq = R(F(sq) + rs(eps))                 # .add_(eps)
                    ad = R(F(R(torch.reciprocal(F(sq)))) * bc2 ** 0.5)  # float / tensor
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    upd = R(F(upd) * F(ad))
                    upd = R(F(upd) * rect)
                p.copy_(R(F(p) - F(upd)))                   # param.add_(x, alpha=-1)
        elif name in ("adam", "adamw"):
            b1, b2 = kw["betas"]
            eps, ams = kw.get("eps", 1e-8), kw.get("amsgrad", False)
            if name == "adamw" and wd:                      # param.mul_(1 - lr * wd)
                p.copy_(R(F(p) * (1 - lr * wd)))
            m, v = st["m"], st["v"]
            m.copy_(R(lerp(m, g, 1 - b1)))
            v.copy_(R(F(v) * b2))
            v.copy_(R(F(v) + (1 - b2) * g * g))
            x = v
            if ams:
                st["vmax"] = torch.maximum(st["vmax"], v)
                x = st["vmax"]
            bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
            denom = R(F(R(torch.sqrt(F(x)))) / (bc2 ** 0.5))   # exp_avg_sq.sqrt() / bc2_sqrt
            denom = R(F(denom) + rs(eps))                      # .add_(eps)
            p.copy_(R(F(p) + (-(lr / bc1)) * F(m) / F(denom)))  # addcdiv_(exp_avg, denom, -step_size)
        elif name == "adagrad":
            eps, lrd = kw.get("eps", 1e-10), kw.get("lr_decay", 0)
            sm = st["sum"]
            clr = lr / (1 + (step - 1) * lrd)
            sm.copy_(R(F(sm) + 1.0 * g * g))                    # state_sum.addcmul_(grad, grad, value=1)
            std = R(F(R(torch.sqrt(F(sm)))) + rs(eps))          # state_sum.sqrt().add_(eps)
            p.copy_(R(F(p) + (-clr) * g / F(std)))              # addcdiv_(grad, std, value=-clr)
        elif name == "rmsprop":
            al, eps, mom = kw.get("alpha", 0.99), kw.get("eps", 1e-8), kw.get("momentum", 0)
            sq = st["v"]
            sq.copy_(R(F(sq) * al))                             # square_avg.mul_(alpha)
            sq.copy_(R(F(sq) + (1 - al) * g * g))               # .addcmul_(grad, grad, 1 - alpha)
            if kw.get("centered", False):
                ga = st["m"]
                ga.copy_(R(lerp(ga, g, 1 - al)))                # grad_avg.lerp_(grad, 1 - alpha)
                avg = R(torch.sqrt(F(R(F(sq) + (-1.0) * F(ga) * F(ga)))))  # addcmul(ga, ga, -1).sqrt_()
            else:
                avg = R(torch.sqrt(F(sq)))
            avg = R(F(avg) + rs(eps))                           # .add_(eps)
            if mom > 0:
                buf = st["ax"]
                buf.copy_(R(F(buf) * mom))                      # buf.mul_(momentum)
                buf.copy_(R(F(buf) + 1.0 * g / F(avg)))         # .addcdiv_(grad, avg)
                p.copy_(R(fma(rs(-lr), F(buf), F(p))))          # param.add_(buf, alpha=-lr)
            else:
                p.copy_(R(F(p) + (-lr) * g / F(avg)))
        elif name == "adadelta":
            rho, eps = kw.get("rho", 0.9), kw.get("eps", 1e-6)
            sq, acc = st["v"], st["m"]
            sq.copy_(R(F(sq) * rho))
            sq.copy_(R(F(sq) + (1 - rho) * g * g))
            std = R(torch.sqrt(F(R(F(sq) + rs(eps)))))          # square_avg.add(eps).sqrt_()
            delta = R(torch.sqrt(F(R(F(acc) + rs(eps)))))       # acc_delta.add(eps).sqrt_()
            delta = R(F(delta) / F(std))                        # .div_(std)
            delta = R(F(delta) * g)                             # .mul_(grad)
            acc.copy_(R(F(acc) * rho))
            acc.copy_(R(F(acc) + (1 - rho) * F(delta) * F(delta)))
            p.copy_(R(fma(rs(-lr), F(delta), F(p))))            # param.add_(delta, alpha=-lr)
        elif name == "adamax":
            b1, b2 = kw["betas"]
            eps = kw.get("eps", 1e-8)
            m, u = st["m"], st["v"]
            m.copy_(R(lerp(m, g, 1 - b1)))                      # exp_avg.lerp_(grad, 1 - beta1)
            dec = R(F(u) * b2)                                  # exp_inf.mul_(beta2)
            ag = R(g.abs() + rs(eps))                           # grad.abs().add_(eps)
            u.copy_(torch.maximum(dec, ag))
            clr = lr / (1 - b1 ** step)
            p.copy_(R(F(p) + (-clr) * F(m) / F(u)))             # addcdiv_(exp_avg, exp_inf, -clr)
        elif name == "rprop":
            em, ep = kw["etas"]
            lo, hi = kw["step_sizes"]
            prev, ss = st["m"], st["ss"]
            pr = R(g * F(prev))                                 # grad.mul(prev)
            em_r, ep_r = float(R(torch.tensor(em))), float(R(torch.tensor(ep)))
            fac = torch.where(pr > 0, torch.tensor(ep_r), torch.where(pr < 0, torch.tensor(em_r),
                                                                       torch.tensor(1.0)))
            sz = R(F(ss) * fac)                                 # step_size.mul_(sign)
            sz = F(sz).clamp(float(R(torch.tensor(lo))), float(R(torch.tensor(hi))))  # clamp_
            ss.copy_(R(sz))
            g = torch.where(fac == em_r, torch.zeros_like(g), g)   # grad[sign.eq(etaminus)] = 0
            p.copy_(R(F(p) - torch.sign(g) * F(ss)))            # addcmul_(grad.sign(), step_size, -1)
            prev.copy_(R(g))
        elif name == "adafactor":
            # torch 2.11's _single_tensor_adafactor; eps1 None: finfo(dtype).eps
            b2d, d = kw.get("beta2_decay", -0.8), kw.get("d", 1.0)
            eps1, eps2 = torch.finfo(dt).eps, 1e-3
            w = step ** b2d
            rho = min(lr, 1 / (step ** 0.5))
            alpha = max(eps2, float(R(F(p).norm())) / (p.numel() ** 0.5)) * rho
            if wd:                                          # param.mul_(1 - lr * wd)
                p.copy_(R(F(p) * (1 - lr * wd)))
            g = F(st["g16"])
            if p.dim() > 1:
                rv, cv = st["row_var"], st["col_var"]
                C, Rn = p.shape[-1], p.shape[-2]
                nr = F(R(g.norm(dim=-1, keepdim=True)))     # norm(dim=-1)
                rm = R(F(R(nr * nr)) / C)                   # .square_().div_(C)
                rv.copy_(R(lerp(rv, rm, w)))                # row_var.lerp_(row_mean, w)
                nc = F(R(g.norm(dim=-2, keepdim=True)))
                cm = R(F(R(nc * nc)) / Rn)
                cv.copy_(R(lerp(cv, cm, w)))
                ve = R(F(rv) @ F(cv))                       # row_var @ col_var
                mean = F(R(F(rv).mean(dim=-2, keepdim=True))).clamp(min=float(R(torch.tensor(eps1))))
                ve = R(F(ve) / mean)                        # var_estimate.div_(...)
            else:
                var = st["variance"]
                var.copy_(R(lerp(var, R(g * g), w)))        # variance.lerp_(grad.square(), w)
                ve = var.clone()
            ve = F(ve).clamp(min=float(R(torch.tensor(eps1 * eps1))))   # clamp_(min=eps1 * eps1)
            upd = R(1.0 / torch.sqrt(ve))                   # rsqrt_
            upd = R(F(upd) * g)                             # mul_(grad)
            denom = max(1.0, float(R(F(upd).norm())) / ((upd.numel() ** 0.5) * d))
            p.copy_(R(fma(rs(-alpha / denom), F(upd), F(p))))  # param.add_(update, alpha)
        elif name == "asgd":
            lambd, alpha, t0 = kw["lambd"], kw["alpha"], kw["t0"]
            eta, mu = st["eta"], st["mu"]
            p.copy_(R(F(p) * (1 - lambd * eta)))            # param.mul_(1 - lambd * eta)
            p.copy_(R(fma(rs(-eta), g, F(p))))              # param.add_(grad, alpha=-eta)
            ax = st["ax"]
            if mu != 1:                                     # ax.add_(param.sub(ax).mul_(mu))
                ax.copy_(R(F(ax) + F(R(F(R(F(p) - F(ax))) * mu))))
            else:
                ax.copy_(p)
            st["eta"] = float(torch.tensor(lr / ((1 + lambd * lr * step) ** alpha), dtype=torch.float32))
            st["mu"] = float(torch.tensor(1 / max(1, step - t0), dtype=torch.float32))


def emulated(name, algo, kw, dt):
    g = torch.Generator().manual_seed(sum(map(ord, name)))
    init = [(torch.randn(s, generator=g) * 0.5).to(dt) for s in SHAPES]
    gs = kw.get("grad_scale", 1.0)
    grads = [[(torch.randn(s, generator=g) * gs).to(dt) for s in SHAPES] for _ in range(STEPS)]
    ps = [t.clone() for t in init]
    states = [dict(m=torch.zeros_like(t), v=torch.zeros_like(t), ax=torch.zeros_like(t), mp=1.0,
                   eta=float(torch.tensor(kw["lr"], dtype=torch.float32)), mu=1.0,
                   variance=torch.zeros_like(t), vmax=torch.zeros_like(t),
                   sum=torch.full_like(t, kw.get("initial_accumulator_value", 0)),
                   ss=torch.full_like(t, kw["lr"]),
                   row_var=torch.zeros(t.shape[:-1] + (1,), dtype=dt) if t.dim() > 1 else None,
                   col_var=torch.zeros(t.shape[:-2] + (1, t.shape[-1]), dtype=dt) if t.dim() > 1 else None)
              for t in init]
    out = [bits(flat(init))]
    for step in range(STEPS):
        emulated_step(algo, kw, dt, ps, grads[step], states, step + 1)
        out.append(bits(flat(grads[step])))
        out.append(bits(flat(ps)))
    path = os.path.join(HERE, "%s.%s.param.bin" % (name, {torch.bfloat16: "bf16", torch.float16: "f16"}[dt]))
    with open(path, "wb") as f:
        f.write(b"".join(out))


# name, keyword arguments: large steps (lr 0.5), so that a rounding missed
# inside the step moves the parameters by an ulp
EMULATED = [
    ("nadam_2x", "nadam", dict(lr=0.5, betas=(0.875, 1 - 2 ** -7), weight_decay=2 ** -6)),
    ("radam_2x", "radam", dict(lr=0.5, betas=(0.875, 1 - 2 ** -5), weight_decay=2 ** -6)),
    ("asgd_2x", "asgd", dict(lr=0.5, lambd=0.1, alpha=0.75, t0=4, weight_decay=2 ** -6)),
    # torch 1.13 has no Adafactor (2.5)
    ("adafactor_2x", "adafactor", dict(lr=0.5, weight_decay=2 ** -6)),
    # gradients of 2^-10: the variance estimates fall under eps1^2 (eps1 None:
    # finfo(dtype).eps, 2^-7 in bf16), so the clamp decides
    ("adafactor_small_2x", "adafactor", dict(lr=0.5, grad_scale=2 ** -10)),
    # the optimizers torch 1.13 cannot step in float16 (no Half addcmul,
    # addcdiv or clamp), emulated in both dtypes
    ("adam_2x", "adam", dict(lr=0.25, betas=(0.875, 1 - 2 ** -7), weight_decay=2 ** -6, amsgrad=True)),
    ("adamw_2x", "adamw", dict(lr=0.25, betas=(0.875, 1 - 2 ** -7), weight_decay=2 ** -2)),
    ("adagrad_2x", "adagrad", dict(lr=0.5, weight_decay=2 ** -6, initial_accumulator_value=0.1)),
    ("rmsprop_2x", "rmsprop", dict(lr=0.125, alpha=1 - 2 ** -5, momentum=0.875, centered=True,
                                   weight_decay=2 ** -6)),
    ("adadelta_2x", "adadelta", dict(lr=1.0, rho=0.875, eps=2 ** -6, weight_decay=2 ** -6)),
    ("adamax_2x", "adamax", dict(lr=0.25, betas=(0.875, 1 - 2 ** -7), eps=2 ** -20, weight_decay=2 ** -6)),
    ("rprop_2x", "rprop", dict(lr=2 ** -6, etas=(0.5, 1.25), step_sizes=(2 ** -14, 2 ** -3))),
]


def main():
    n = 0
    for case, algo, kw in EMULATED:
        for dt in DTYPES.values():
            emulated(case, algo, kw, dt)
            n += 1
    for name, cls, kw in CASES:
        for dt in DTYPES.values():
            for precision in ("param", "master"):
                try:
                    run(name, cls, kw, dt, precision)
                    n += 1
                except RuntimeError as e:   # torch 1.13 lacks some float16 CPU kernels
                    print("%s %s %s: not written: %s" % (name, dt, precision, e), file=sys.stderr)
    print("torch %s, %d cases" % (torch.__version__, n), file=sys.stderr)


if __name__ == "__main__":
    main()
